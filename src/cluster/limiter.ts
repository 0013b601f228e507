// The rate limiter of a cluster instance: rpm/tpm budgets taken atomically in Redis (src/cluster/budgets.ts)
// once the router picks a deployment, with what Redis refused remembered locally so ranking avoids that
// deployment until its window frees a slot. While the link is down each instance keeps its own buckets
// (`failOpen`, the default) or refuses every budgeted deployment until Redis is back.

import type { BudgetTicket, RateLimiter } from '../routing/budgets.ts';
import type { SharedBudgets } from './budgets.ts';
import type { ClusterLink } from './link.ts';

export interface SharedLimiterOptions {
  /** While Redis is unreachable: per-instance budgets (true), or none admitted (false). */
  failOpen: boolean;
  now: () => number;
}

export function createSharedRateLimiter(
  link: ClusterLink,
  budgets: SharedBudgets,
  local: RateLimiter,
  options: SharedLimiterOptions,
): RateLimiter {
  /** Deployments Redis refused, until the time its window has room again (this instance's clock). */
  const spentUntil = new Map<string, number>();
  const shared = () => link.status() === 'up';
  const spent = (deployment: string) => {
    const until = spentUntil.get(deployment);
    if (until === undefined) return false;
    if (until > options.now()) return true;
    spentUntil.delete(deployment);
    return false;
  };
  /** The answer while Redis cannot be asked. */
  const offline = (deployment: string, tokens: number): BudgetTicket | null => {
    if (!options.failOpen || !local.hasBudget(deployment, tokens)) return null;
    local.consume(deployment, tokens);
    return { deployment, id: 'local', tokens };
  };
  return {
    hasBudget(deployment, tokens) {
      if (!budgets.limited(deployment)) return true;
      if (!shared()) return options.failOpen && local.hasBudget(deployment, tokens);
      return !spent(deployment);
    },
    // Reached only for a deployment used without a ticket (over budget, as a last resort): still counted.
    consume(deployment, tokens) {
      if (!budgets.limited(deployment)) return;
      if (!shared()) return local.consume(deployment, tokens);
      void budgets.reserve(deployment, tokens).catch(() => {});
    },
    adjust(deployment, delta) {
      local.adjust(deployment, delta);
    },
    async reserve(deployment, tokens) {
      if (!budgets.limited(deployment)) return { deployment, id: 'unlimited', tokens };
      if (!shared()) return offline(deployment, tokens);
      try {
        const result = await budgets.reserve(deployment, tokens);
        if (result.admitted) return result.reservation;
        spentUntil.set(deployment, options.now() + result.retryAfterMs);
        return null;
      } catch {
        return offline(deployment, tokens);
      }
    },
    settle(ticket, usedTokens) {
      if (ticket.id === 'unlimited') return;
      if (ticket.id === 'local') return local.adjust(ticket.deployment, usedTokens - ticket.tokens);
      void budgets.settle(ticket, usedTokens).catch(() => {});
    },
  };
}
