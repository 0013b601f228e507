// Per-tenant rpm/tpm budgets (`auth.tenants`): one request and its estimated tokens are taken once per client
// request, before any deployment is tried, and the tokens settled with the real usage at its end. Over budget
// the request fails with 429 `rate_limited` and a Retry-After; no attempt is made, so no provider's health
// ever sees it. Local token buckets here; a cluster shares them through Redis (src/cluster/tenants.ts).

import type { TenantBudget } from '../config/auth.ts';
import { SwitchyardError } from '../errors.ts';

/** What was taken of a tenant's budget for one request. */
export interface TenantTicket {
  tenant: string;
  id: string;
  tokens: number;
}

export interface TenantBudgets {
  /** Whether the tenant has a budget at all: without one nothing is taken (and no round trip made). */
  limited(tenant: string): boolean;
  /** Takes one request and `tokens` tokens; rejects with `rate_limited` (and when to come back) when spent. */
  admit(tenant: string, tokens: number): Promise<TenantTicket>;
  /** Corrects the ticket's tokens to what the request really used (0: the upstream used none). */
  settle(ticket: TenantTicket, usedTokens: number): void;
}

/** The refusal, with the time until the tenant's budget has room again. */
export function rateLimited(tenant: string, retryAfterMs: number): SwitchyardError {
  return new SwitchyardError(
    'rate_limited',
    `tenant "${tenant}" is over its rpm/tpm budget; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
    {
      retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)),
    },
  );
}

interface Bucket {
  capacity: number;
  level: number;
  updatedAt: number;
}

const minuteMs = 60_000;

const refill = (b: Bucket, at: number) => {
  b.level = Math.min(b.capacity, b.level + ((at - b.updatedAt) * b.capacity) / minuteMs);
  b.updatedAt = at;
};
/** How long until the bucket holds `need` (a request larger than the whole budget needs a full bucket). */
const waitFor = (b: Bucket, need: number) => Math.max(0, ((Math.min(need, b.capacity) - b.level) * minuteMs) / b.capacity);

/** Token buckets in this process, each refilling its per-minute budget evenly over a minute. */
export function createLocalTenantBudgets(budgets: Record<string, TenantBudget>, now: () => number = Date.now): TenantBudgets {
  const buckets = new Map<string, { requests: Bucket | null; tokens: Bucket | null }>();
  const bucket = (capacity: number | null): Bucket | null => (capacity === null ? null : { capacity, level: capacity, updatedAt: now() });
  for (const [tenant, b] of Object.entries(budgets)) {
    if (b.rpm !== null || b.tpm !== null) buckets.set(tenant, { requests: bucket(b.rpm), tokens: bucket(b.tpm) });
  }
  let sequence = 0;
  return {
    limited: (tenant) => buckets.has(tenant),
    async admit(tenant, tokens) {
      const b = buckets.get(tenant);
      const ticket = { tenant, id: `local:${++sequence}`, tokens };
      if (!b) return ticket;
      const at = now();
      if (b.requests) refill(b.requests, at);
      if (b.tokens) refill(b.tokens, at);
      const wait = Math.max(b.requests ? waitFor(b.requests, 1) : 0, b.tokens ? waitFor(b.tokens, tokens) : 0);
      if (wait > 0) throw rateLimited(tenant, wait);
      if (b.requests) b.requests.level -= 1;
      if (b.tokens) b.tokens.level -= tokens;
      return ticket;
    },
    settle(ticket, usedTokens) {
      const b = buckets.get(ticket.tenant)?.tokens;
      if (!b) return;
      refill(b, now());
      b.level = Math.min(b.capacity, b.level - (usedTokens - ticket.tokens));
    },
  };
}

/**
 * One request's charge to its tenant: admitted once (before the first pick), then each attempt's tokens
 * counted as the deployments' budgets count them (the estimate, corrected by the real usage or refunded), and
 * settled when the request ends.
 */
export class TenantCharge {
  readonly #budgets: TenantBudgets;
  readonly #tenant: string;
  readonly #tokens: number;
  #admission: Promise<TenantTicket> | undefined;
  #ticket: TenantTicket | undefined;
  #used = 0;
  #closed = false;

  constructor(budgets: TenantBudgets, tenant: string, tokens: number) {
    this.#budgets = budgets;
    this.#tenant = tenant;
    this.#tokens = tokens;
  }

  /** Resolves once the tenant's budget took the request; rejects with `rate_limited`. */
  async admitted(): Promise<void> {
    this.#admission ??= this.#budgets.admit(this.#tenant, this.#tokens).then((ticket) => {
      this.#ticket = ticket;
      // Closed meanwhile (the caller went away): give it back as unused at once.
      if (this.#closed) this.#budgets.settle(ticket, this.#used);
      return ticket;
    });
    await this.#admission;
  }

  /** Tokens an attempt took (its estimate) or gave back (a correction, a refund). */
  add(tokens: number) {
    this.#used += tokens;
  }

  /** The request ended: the tenant's tokens become what its attempts used. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ticket) this.#budgets.settle(this.#ticket, Math.max(0, this.#used));
  }
}
