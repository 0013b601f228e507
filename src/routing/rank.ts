// Which deployment gets the next attempt: a pure ranking over the provider actors' current snapshots.
// Tiers first (healthy, then degraded or over budget, then a free probe slot of a recovering one), then the
// strategy within a tier. Deployments that cannot admit a call are never ranked.

import type { ProviderHealth } from '../provider/health.ts';

export type Strategy = 'priority' | 'weighted' | 'least-latency' | 'least-busy';

export interface Candidate {
  id: string;
  /** Position in the configuration: lower is preferred by `priority` and breaks ties elsewhere. */
  priority: number;
  health: ProviderHealth;
  admission: 'normal' | 'probe' | null;
  weight: number;
  latencyEwmaMs: number | null;
  inFlight: number;
  /** Over its rpm/tpm budget: served only when nothing better is left, like a degraded deployment. */
  overBudget: boolean;
}

/** 0 healthy, 1 degraded or over budget, 2 probing with a free slot; null when it admits nothing. */
export function tierOf(c: Candidate): 0 | 1 | 2 | null {
  if (c.admission === null) return null;
  if (c.admission === 'probe') return 2;
  return c.health === 'healthy' && !c.overBudget ? 0 : 1;
}

/**
 * Orders the admissible candidates for one attempt. `random` draws in [0, 1) for the weighted strategy
 * (weighted random order by Efraimidis–Spirakis keys: a deployment of weight w leads with probability w/Σw).
 */
export function rankCandidates(candidates: readonly Candidate[], strategy: Strategy, random: () => number): Candidate[] {
  // Runs on every attempt: a plain loop, and no sort for the common case of one admissible deployment.
  const keyed: { c: Candidate; tier: number; key: number }[] = [];
  for (const c of candidates) {
    const tier = tierOf(c);
    if (tier === null) continue;
    let key: number;
    if (strategy === 'weighted') key = c.weight > 0 ? -(random() ** (1 / c.weight)) : 0;
    else if (strategy === 'least-latency') key = c.latencyEwmaMs ?? 0;
    else if (strategy === 'least-busy') key = c.inFlight;
    else key = 0;
    keyed.push({ c, tier, key });
  }
  if (keyed.length > 1) keyed.sort((a, b) => a.tier - b.tier || a.key - b.key || a.c.priority - b.c.priority);
  return keyed.map((k) => k.c);
}

/**
 * The deployment for the next attempt: the best ranked one not tried yet for this request, or, when every
 * admissible one was tried, the best ranked again (a model with one deployment retries on it).
 */
export function pickNext(
  candidates: readonly Candidate[],
  strategy: Strategy,
  tried: ReadonlySet<string>,
  random: () => number,
): Candidate | undefined {
  const ranked = rankCandidates(candidates, strategy, random);
  return ranked.find((c) => !tried.has(c.id)) ?? ranked[0];
}
