// Backoff delays for a provider's cool-down, computed purely: the jitter's random source is a seeded PRNG
// whose state lives in the machine's context, so a snapshot replays the same delays.

export type BackoffKind = 'exponential' | 'linear' | 'fixed';

export interface BackoffOptions {
  kind: BackoffKind;
  /** Delay of the first cool-down, before jitter. */
  initialMs: number;
  /** Cap on the delay before jitter. A Retry-After floor may still exceed it. */
  maxMs: number;
  /** Growth factor per attempt for `exponential`. */
  multiplier: number;
  /** `full`: uniform in [0, delay] (AWS "full jitter"); `none`: the delay itself. */
  jitter: 'full' | 'none';
}

export const backoffDefaults: BackoffOptions = {
  kind: 'exponential',
  initialMs: 1000,
  maxMs: 60_000,
  multiplier: 2,
  jitter: 'full',
};

/** The delay before jitter for the given attempt (1 = first cool-down), capped at `maxMs`. */
export function baseDelay(options: BackoffOptions, attempt: number): number {
  const n = Math.max(1, attempt);
  let delay: number;
  if (options.kind === 'fixed') delay = options.initialMs;
  else if (options.kind === 'linear') delay = options.initialMs * n;
  else delay = options.initialMs * options.multiplier ** (n - 1);
  return Math.min(options.maxMs, Number.isFinite(delay) ? delay : options.maxMs);
}

/** One step of mulberry32: returns a float in [0, 1) and the generator's next state. */
export function nextRandom(state: number): [value: number, next: number] {
  const next = (state + 0x6d2b79f5) | 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, next];
}

/**
 * The cool-down delay for `attempt`: the capped base delay with jitter applied, raised to at least
 * `floorMs` (a server's Retry-After). Returns the delay and the PRNG's next state.
 */
export function backoffDelay(
  options: BackoffOptions,
  attempt: number,
  rngState: number,
  floorMs = 0,
): [delayMs: number, nextRngState: number] {
  const base = baseDelay(options, attempt);
  if (options.jitter === 'none') return [Math.max(base, floorMs), rngState];
  const [r, next] = nextRandom(rngState);
  return [Math.max(Math.floor(r * (base + 1)), floorMs), next];
}
