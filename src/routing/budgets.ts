// Per-deployment request and token budgets (rpm, tpm). The interface is narrow so that a shared store
// (Redis) can implement it for several Switchyard instances; this file keeps local token buckets.

export interface RateLimiter {
  /** Whether the deployment has budget now for one request of about `tokens` tokens. */
  hasBudget(deployment: string, tokens: number): boolean;
  /** Spends one request and `tokens` tokens of the deployment's budget. */
  consume(deployment: string, tokens: number): void;
  /** Corrects the token spend once the real usage is known. */
  adjust(deployment: string, tokensDelta: number): void;
  /**
   * A shared limiter checks and takes budget atomically across instances once a route is picked: a ticket, or
   * null when the deployment's budget is spent (hasBudget then says so until it is not). Local ones have none.
   */
  reserve?(deployment: string, tokens: number): Promise<BudgetTicket | null>;
  /** Corrects a ticket's tokens once the real usage is known. */
  settle?(ticket: BudgetTicket, usedTokens: number): void;
}

/** What a shared limiter took for one request on one deployment. */
export interface BudgetTicket {
  deployment: string;
  id: string;
  tokens: number;
}

export interface Limits {
  rpm: number | null;
  tpm: number | null;
}

interface Bucket {
  capacity: number;
  level: number;
  updatedAt: number;
}

const minuteMs = 60_000;

function refill(b: Bucket, at: number) {
  b.level = Math.min(b.capacity, b.level + ((at - b.updatedAt) * b.capacity) / minuteMs);
  b.updatedAt = at;
}

/** Token buckets in this process: each refills its full per-minute budget evenly over a minute. */
export function createLocalRateLimiter(limits: Record<string, Limits>, now: () => number): RateLimiter {
  const buckets = new Map<string, { requests: Bucket | null; tokens: Bucket | null }>();
  const bucket = (capacity: number | null): Bucket | null => (capacity === null ? null : { capacity, level: capacity, updatedAt: now() });
  for (const [id, l] of Object.entries(limits)) {
    if (l.rpm !== null || l.tpm !== null) buckets.set(id, { requests: bucket(l.rpm), tokens: bucket(l.tpm) });
  }
  return {
    hasBudget(id, tokens) {
      const b = buckets.get(id);
      if (!b) return true;
      const at = now();
      if (b.requests) refill(b.requests, at);
      if (b.tokens) refill(b.tokens, at);
      // A request larger than the whole token budget may still go when the bucket is full.
      return (!b.requests || b.requests.level >= 1) && (!b.tokens || b.tokens.level >= Math.min(tokens, b.tokens.capacity));
    },
    consume(id, tokens) {
      const b = buckets.get(id);
      if (!b) return;
      const at = now();
      if (b.requests) {
        refill(b.requests, at);
        b.requests.level -= 1;
      }
      if (b.tokens) {
        refill(b.tokens, at);
        b.tokens.level -= tokens;
      }
    },
    adjust(id, delta) {
      const b = buckets.get(id)?.tokens;
      if (!b) return;
      refill(b, now());
      b.level = Math.min(b.capacity, b.level - delta);
    },
  };
}

/** A cheap estimate of a request's tokens for budgeting (about four characters a token), never tokenized. */
export function estimateTokens(messages: readonly { content?: unknown }[], maxTokens: number | null | undefined): number {
  let chars = 0;
  for (const m of messages) chars += typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content ?? '').length;
  return Math.ceil(chars / 4) + messages.length * 4 + (maxTokens ?? 0);
}

/**
 * Estimated tokens of an embeddings input: ~4 characters a token for text, one per id for token arrays. Reads
 * only lengths: the input was bounded by the route's schema.
 */
export function estimateInputTokens(input: unknown): number {
  if (typeof input === 'string') return Math.ceil(input.length / 4);
  if (!Array.isArray(input)) return 0;
  let tokens = 0;
  for (const item of input) tokens += typeof item === 'number' ? 1 : estimateInputTokens(item);
  return tokens;
}
