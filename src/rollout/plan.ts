// What a config reload does to the experiments and rollouts, by id: the same diff as the deployments'
// (src/routing/fleet.ts). Settings are compared with their defaults filled and their keys sorted, so a config
// that writes the same rollout in another key order leaves it unchanged. Pure.

/** Ids of one kind of split, by what a reload does to them. */
export interface SplitPlan {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
}

export interface SplitsPlan {
  experiments: SplitPlan;
  rollouts: SplitPlan;
}

/** JSON of `value` with every object's keys sorted: equal settings give equal text. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** Compares the running splits (id → settings as canonical text) with the next config's. */
export function planSplits(running: ReadonlyMap<string, string>, next: readonly { id: string }[]): SplitPlan {
  const plan: SplitPlan = { added: [], changed: [], removed: [], unchanged: [] };
  const ids = new Set<string>();
  for (const split of next) {
    ids.add(split.id);
    const before = running.get(split.id);
    if (before === undefined) plan.added.push(split.id);
    else if (before === canonical(split)) plan.unchanged.push(split.id);
    else plan.changed.push(split.id);
  }
  for (const id of running.keys()) if (!ids.has(id)) plan.removed.push(id);
  return plan;
}

export const emptyPlan = (): SplitPlan => ({ added: [], changed: [], removed: [], unchanged: [] });
