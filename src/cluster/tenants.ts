// Per-tenant budgets shared by the cluster: the same Lua sliding window as deployments' budgets
// (src/cluster/budgets.ts), one per tenant, so N instances admit a tenant's rpm/tpm once, not N times. While
// Redis is unreachable each instance uses its own buckets (`failOpen`, the default) or refuses limited tenants.

import { isSwitchyardError } from '../errors.ts';
import { rateLimited, type TenantBudgets, type TenantTicket } from '../routing/tenants.ts';
import type { SharedBudgets } from './budgets.ts';
import type { ClusterLink } from './link.ts';

/** A tenant's window in Redis: hash-tagged apart from deployments' (deployment ids always hold a `/`). */
export const tenantKey = (tenant: string) => `tenant:${tenant}`;

/** How long a refused caller waits when Redis is down and the cluster fails closed. */
const closedRetryMs = 1000;

export function createSharedTenantBudgets(
  link: ClusterLink,
  shared: SharedBudgets,
  local: TenantBudgets,
  options: { failOpen: boolean },
): TenantBudgets {
  /** Tickets taken in Redis (the others are local buckets'). */
  const inRedis = new WeakSet<TenantTicket>();
  return {
    limited: (tenant) => local.limited(tenant),
    async admit(tenant, tokens) {
      if (link.status() === 'up') {
        try {
          const result = await shared.reserve(tenantKey(tenant), tokens);
          if (!result.admitted) throw rateLimited(tenant, result.retryAfterMs);
          const ticket = { tenant, id: result.reservation.id, tokens: result.reservation.tokens };
          inRedis.add(ticket);
          return ticket;
        } catch (err) {
          // Refused by the budget: the answer. Anything else is the link failing: the fallback below.
          if (isSwitchyardError(err)) throw err;
        }
      }
      if (!options.failOpen) throw rateLimited(tenant, closedRetryMs);
      return local.admit(tenant, tokens);
    },
    settle(ticket, usedTokens) {
      if (!inRedis.has(ticket)) return local.settle(ticket, usedTokens);
      void shared.settle({ deployment: tenantKey(ticket.tenant), id: ticket.id, tokens: ticket.tokens }, usedTokens).catch(() => {});
    },
  };
}
