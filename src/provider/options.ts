// Health options of a provider deployment: defaults, and the one function that merges and validates them.

import { SwitchyardError } from '../errors.ts';
import { type BackoffOptions, backoffDefaults } from './backoff.ts';

export interface ProviderHealthOptions {
  /** Length of the rolling window that error and slow-call rates are measured over. */
  windowMs: number;
  /** Buckets the rolling window is divided into. */
  windowBuckets: number;
  /** Calls in the window before any rate can degrade or trip the provider. */
  minVolume: number;
  /** Error rate (0..1) in the window at which the provider becomes `degraded`. */
  degradedErrorRate: number;
  /** Error rate (0..1) in the window at which the circuit opens (opossum's trip decision). */
  openErrorRate: number;
  /**
   * Retryable failures in a row (429s aside) that open the circuit whatever the window's rate: a deployment
   * that goes hard down under heavy traffic is ejected at once instead of after its rate catches up. 0: off.
   */
  tripConsecutiveFailures: number;
  /** A call slower than this counts as slow. */
  slowCallMs: number;
  /** Share of slow calls (0..1) in the window at which the provider becomes `degraded`. */
  slowCallRate: number;
  /** How many real requests `probing` admits at once. */
  probeCount: number;
  /** Time in `probing` without traffic before one synthetic health probe is sent. */
  probeIdleMs: number;
  /** How long a 429 without Retry-After keeps the provider `degraded`. */
  rateLimitHoldMs: number;
  backoff: BackoffOptions;
}

export const providerHealthDefaults: ProviderHealthOptions = {
  windowMs: 10_000,
  windowBuckets: 10,
  minVolume: 5,
  degradedErrorRate: 0.2,
  openErrorRate: 0.5,
  tripConsecutiveFailures: 5,
  slowCallMs: 30_000,
  slowCallRate: 0.5,
  probeCount: 1,
  probeIdleMs: 1000,
  rateLimitHoldMs: 5000,
  backoff: backoffDefaults,
};

export type ProviderHealthInput = Partial<Omit<ProviderHealthOptions, 'backoff'>> & {
  backoff?: Partial<BackoffOptions>;
};

function fail(path: string, expected: string): never {
  throw new SwitchyardError('invalid_config', `${path}: expected ${expected}`, { param: path });
}

function check(path: string, value: number, min: number, max = Number.POSITIVE_INFINITY, integer = false) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    fail(path, `a number in [${min}, ${max === Number.POSITIVE_INFINITY ? '∞' : max}]`);
  }
  if (integer && !Number.isInteger(value)) fail(path, 'an integer');
}

/** Merges caller options over the defaults and validates every field; errors name the path (`prefix.field`). */
export function resolveProviderHealthOptions(input: ProviderHealthInput = {}, prefix = 'health'): ProviderHealthOptions {
  for (const key of Object.keys(input))
    if (!(key in providerHealthDefaults)) fail(`${prefix}.${key}`, 'a known option (this one is unknown)');
  for (const key of Object.keys(input.backoff ?? {})) {
    if (!(key in providerHealthDefaults.backoff)) fail(`${prefix}.backoff.${key}`, 'a known option (this one is unknown)');
  }
  const o: ProviderHealthOptions = {
    ...providerHealthDefaults,
    ...input,
    backoff: { ...providerHealthDefaults.backoff, ...input.backoff },
  };
  check(`${prefix}.windowMs`, o.windowMs, 100);
  check(`${prefix}.windowBuckets`, o.windowBuckets, 1, 1000, true);
  check(`${prefix}.minVolume`, o.minVolume, 1, Number.POSITIVE_INFINITY, true);
  check(`${prefix}.degradedErrorRate`, o.degradedErrorRate, 0, 1);
  check(`${prefix}.openErrorRate`, o.openErrorRate, 0, 1);
  check(`${prefix}.tripConsecutiveFailures`, o.tripConsecutiveFailures, 0, 1_000_000, true);
  check(`${prefix}.slowCallMs`, o.slowCallMs, 1);
  check(`${prefix}.slowCallRate`, o.slowCallRate, 0, 1);
  check(`${prefix}.probeCount`, o.probeCount, 1, 1000, true);
  check(`${prefix}.probeIdleMs`, o.probeIdleMs, 0);
  check(`${prefix}.rateLimitHoldMs`, o.rateLimitHoldMs, 0);
  const b = o.backoff;
  if (!['exponential', 'linear', 'fixed'].includes(b.kind)) fail(`${prefix}.backoff.kind`, '"exponential", "linear" or "fixed"');
  if (!['full', 'none'].includes(b.jitter)) fail(`${prefix}.backoff.jitter`, '"full" or "none"');
  check(`${prefix}.backoff.initialMs`, b.initialMs, 0);
  check(`${prefix}.backoff.maxMs`, b.maxMs, b.initialMs);
  check(`${prefix}.backoff.multiplier`, b.multiplier, 1);
  return o;
}
