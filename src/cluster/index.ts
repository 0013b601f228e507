// A Switchyard instance's membership of a cluster: the link to the shared Redis, shared health for its provider
// actors, shared budgets for its router, and the shared config of live reloads. Built by the runtime when `cluster.redis` is set; without it none
// of this (nor ioredis) is loaded.

import type { TenantBudget } from '../config/auth.ts';
import type { ClusterConfig, ProviderConfig } from '../config.ts';
import type { ProviderClusterHooks } from '../provider/actor.ts';
import type { ProviderRef } from '../provider/machine.ts';
import type { Limits, RateLimiter } from '../routing/budgets.ts';
import type { TenantBudgets } from '../routing/tenants.ts';
import { createSharedBudgets } from './budgets.ts';
import { createConfigSync, type SharedConfigTarget } from './config.ts';
import { createSharedHealth } from './health.ts';
import { createSharedRateLimiter } from './limiter.ts';
import { type ClusterMember, createClusterLink, type LinkStatus } from './link.ts';
import { createSharedTenantBudgets } from './tenants.ts';

export interface ClusterView {
  instanceId: string;
  /** `up`, or `degraded` while Redis is unreachable (every instance then runs on its own state). */
  link: LinkStatus;
  members: ClusterMember[];
}

export function createCluster(config: ClusterConfig & { redis: string }, now: () => number) {
  const link = createClusterLink({
    url: config.redis,
    prefix: config.prefix,
    commandTimeoutMs: config.commandTimeoutMs,
    ...(config.instanceId === null ? {} : { instanceId: config.instanceId }),
  });
  let actors: { actorOf(id: string): ProviderRef | undefined; ids(): string[] } = { actorOf: () => undefined, ids: () => [] };
  const health = createSharedHealth(
    link,
    { actorOf: (id) => actors.actorOf(id), deployments: () => actors.ids(), now },
    { probeLeaseMs: config.probeLeaseMs },
  );
  const hooks: ProviderClusterHooks = health;
  return {
    instanceId: link.instanceId,
    hooks,
    /** Points shared health at the supervisor's provider actors, once they exist. */
    attach(lookup: (id: string) => ProviderRef | undefined, ids: () => string[]) {
      actors = { actorOf: lookup, ids };
      health.resync();
    },
    /** The router's limiter: budgets shared through Redis, `local` while it is unreachable. */
    limiter(local: RateLimiter, limitsOf: (deployment: string) => Limits | undefined): RateLimiter {
      return createSharedRateLimiter(link, createSharedBudgets(link, limitsOf), local, { failOpen: config.failOpen, now });
    },
    /** Shares config reloads with the other instances (src/cluster/config.ts). */
    configSync: <S extends string, R>(target: SharedConfigTarget<S, R>) => createConfigSync(link, target),
    /** Per-tenant budgets shared through Redis, `local` while it is unreachable. */
    tenants(local: TenantBudgets, budgetOf: (tenant: string) => TenantBudget | undefined): TenantBudgets {
      const shared = createSharedBudgets(link, (key) => (key.startsWith('tenant:') ? budgetOf(key.slice('tenant:'.length)) : undefined));
      return createSharedTenantBudgets(link, shared, local, { failOpen: config.failOpen });
    },
    lastRemote: (deployment: string) => health.lastRemote(deployment),
    /** The link itself, for what shares state of its own (rollouts: src/rollout/cluster.ts). */
    link,
    view: (): ClusterView => ({ instanceId: link.instanceId, link: link.status(), members: link.members() }),
    ready: () => link.ready(),
    stop: () => link.close(),
  };
}

export type Cluster = ReturnType<typeof createCluster>;

/** The budgets a config gives each deployment. */
export function limitsByDeployment(providers: readonly ProviderConfig[]): Map<string, Limits> {
  const limits = new Map<string, Limits>();
  for (const p of providers) for (const { model } of Object.values(p.models)) limits.set(`${p.id}/${model}`, { rpm: p.rpm, tpm: p.tpm });
  return limits;
}
