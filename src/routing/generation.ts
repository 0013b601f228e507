// A config generation: everything a request reads of the config, built once per (re)load and never changed
// after: the logical models' routes, the router over them, the budgets and the routing settings. The supervisor
// swaps the current generation by reference, so a new request sees one whole config and a request in flight
// finishes on the one it started with.

import type { SwitchyardConfig } from '../config.ts';
import { variantRoutes } from '../rollout/variants.ts';
import type { Timers } from '../timers.ts';
import { createLocalRateLimiter, type Limits, type RateLimiter } from './budgets.ts';
import type { DecisionLog } from './decisions.ts';
import type { Fleet } from './fleet.ts';
import type { RequestDeps } from './request.ts';
import { createRouter, type Route, type RouterDeps } from './router.ts';

export interface Generation {
  /** The config version: 0 at start, +1 per reload applied (in a cluster, the cluster's version). */
  readonly version: number;
  readonly config: SwitchyardConfig;
  readonly routes: ReadonlyMap<string, readonly Route[]>;
  /** Budgets by deployment id. */
  readonly limits: ReadonlyMap<string, Limits>;
  /** This generation's own token buckets (kept by the next generation when the budgets did not change). */
  readonly local: RateLimiter;
  readonly deps: RequestDeps;
  /** Which provider and logical models each deployment serves. */
  readonly servedBy: ReadonlyMap<string, { provider: string; models: string[] }>;
}

/** What every generation shares with the next: the clock, the decision log, the limiter that outlives them. */
export interface GenerationShared {
  now: () => number;
  random: () => number;
  timers: Timers;
  decisions: DecisionLog;
  waitForChange: RouterDeps['waitForChange'];
  /** Per-tenant budgets: from `auth.tenants`, which applies at a restart, so one for every generation. */
  tenants: RequestDeps['tenants'];
  /** A limiter that spans generations (a caller's own, or the cluster's shared one); else each has local buckets. */
  limiter: RateLimiter | undefined;
}

const sameLimits = (a: ReadonlyMap<string, Limits>, b: ReadonlyMap<string, Limits>) =>
  JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/** Builds the generation of `config` over the fleet's deployments (which must already hold every one it names). */
export function buildGeneration(
  config: SwitchyardConfig,
  version: number,
  fleet: Fleet,
  shared: GenerationShared,
  previous: Generation | undefined,
): Generation {
  const routes = new Map<string, Route[]>();
  const servedBy = new Map<string, { provider: string; models: string[] }>();
  const limits = new Map<string, Limits>();
  for (const provider of config.providers) {
    for (const [logical, { model: upstream }] of Object.entries(provider.models)) {
      const id = `${provider.id}/${upstream}`;
      const deployment = fleet.get(id);
      if (!deployment) throw new Error(`deployment ${id} is not in the fleet`);
      const list = routes.get(logical) ?? [];
      list.push({ deployment, provider, priority: list.length, continuation: provider.continuation });
      routes.set(logical, list);
      const served = servedBy.get(id) ?? { provider: provider.id, models: [] };
      served.models.push(logical);
      servedBy.set(id, served);
      limits.set(id, { rpm: provider.rpm, tpm: provider.tpm });
    }
  }
  // Experiment variants that name deployments are routed as a logical model of their own (src/rollout/variants.ts).
  const all = [...routes.values()].flat();
  for (const [name, ids] of variantRoutes(config)) {
    routes.set(
      name,
      ids.flatMap((id, priority) =>
        all
          .filter((r) => r.deployment.id === id)
          .slice(0, 1)
          .map((r) => ({ ...r, priority })),
      ),
    );
  }
  // Unchanged budgets keep their buckets: a reload must not hand out a fresh minute of budget.
  const local =
    previous && sameLimits(previous.limits, limits) ? previous.local : createLocalRateLimiter(Object.fromEntries(limits), shared.now);
  const limiter = shared.limiter ?? local;
  const { routing } = config;
  const router = createRouter({
    routes,
    strategy: routing.strategy,
    maxWaitForRecoveryMs: routing.maxWaitForRecoveryMs,
    maxWaitingRequests: routing.maxWaitingRequests,
    limiter,
    now: shared.now,
    random: shared.random,
    waitForChange: shared.waitForChange,
  });
  const deps: RequestDeps = {
    routing,
    router,
    limiter,
    now: shared.now,
    timers: shared.timers,
    decisions: shared.decisions,
    tenants: shared.tenants,
  };
  return { version, config, routes, limits, local, deps, servedBy };
}
