// The health options of a provider in the config schema; their defaults are the provider actor's own.

import Type from 'typebox';
import { providerHealthDefaults } from '../provider/options.ts';
import { choice, section } from './fields.ts';

const h = providerHealthDefaults;
const b = providerHealthDefaults.backoff;

/**
 * Health options. Only the top-level block carries defaults: a provider's own block is merged over the
 * top-level one, so defaults there would override what the top level sets.
 */
export function healthProperties(withDefaults: boolean) {
  const d = <T>(value: T) => (withDefaults ? { default: value } : {});
  return {
    windowMs: Type.Optional(
      Type.Number({ minimum: 100, unit: 'ms', description: 'length of the rolling window that rates are measured over', ...d(h.windowMs) }),
    ),
    windowBuckets: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, description: 'buckets of the rolling window', ...d(h.windowBuckets) }),
    ),
    minVolume: Type.Optional(
      Type.Integer({
        minimum: 1,
        unit: 'calls',
        description: 'calls in the window before any rate can degrade or trip the provider',
        ...d(h.minVolume),
      }),
    ),
    degradedErrorRate: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        unit: 'share',
        description: 'error rate at which the provider becomes `degraded` (still serves, preferred less)',
        ...d(h.degradedErrorRate),
      }),
    ),
    openErrorRate: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        unit: 'share',
        description: "error rate above which the circuit opens (`recovering`): opossum's trip decision",
        ...d(h.openErrorRate),
      }),
    ),
    tripConsecutiveFailures: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1_000_000,
        unit: 'calls',
        description: 'retryable failures in a row (429s aside) that open the circuit whatever the rates say; 0 turns it off',
        ...d(h.tripConsecutiveFailures),
      }),
    ),
    slowCallMs: Type.Optional(
      Type.Number({ minimum: 1, unit: 'ms', description: 'a call at least this long counts as slow', ...d(h.slowCallMs) }),
    ),
    slowCallRate: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        unit: 'share',
        description: 'share of slow calls at which the provider becomes `degraded`',
        ...d(h.slowCallRate),
      }),
    ),
    probeCount: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        unit: 'calls',
        description: 'real requests admitted at once while `probing`',
        ...d(h.probeCount),
      }),
    ),
    probeIdleMs: Type.Optional(
      Type.Number({
        minimum: 0,
        unit: 'ms',
        description: 'time in `probing` without traffic before one synthetic probe (a 1-token completion)',
        ...d(h.probeIdleMs),
      }),
    ),
    rateLimitHoldMs: Type.Optional(
      Type.Number({
        minimum: 0,
        unit: 'ms',
        description: 'how long a 429 without `Retry-After` keeps the provider `degraded`',
        ...d(h.rateLimitHoldMs),
      }),
    ),
    backoff: Type.Optional(
      Type.Object(
        {
          kind: Type.Optional(
            choice(['exponential', 'linear', 'fixed'], { description: 'how the cool-down delay grows with each attempt', ...d(b.kind) }),
          ),
          initialMs: Type.Optional(
            Type.Number({ minimum: 0, unit: 'ms', description: 'delay of the first cool-down (at most `maxMs`)', ...d(b.initialMs) }),
          ),
          maxMs: Type.Optional(
            Type.Number({
              minimum: 0,
              unit: 'ms',
              description: 'cap on the delay (a `Retry-After` may exceed it); at least `initialMs`',
              ...d(b.maxMs),
            }),
          ),
          multiplier: Type.Optional(Type.Number({ minimum: 1, description: 'growth per attempt for `exponential`', ...d(b.multiplier) })),
          jitter: Type.Optional(
            choice(['full', 'none'], { description: '`full`: uniform in [0, delay]; `none`: the delay itself', ...d(b.jitter) }),
          ),
        },
        {
          additionalProperties: false,
          description: 'the delay before each probe after the circuit opened',
          ...d({ ...b }),
        },
      ),
    ),
  };
}

/** Health options for every provider (top level) or for one (`providers[].health`, merged over the top level). */
export const healthSchema = section(healthProperties(true), 'health options of every provider; a provider’s own `health` overrides them');
