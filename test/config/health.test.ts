import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { schemaIssues } from '../../src/config/issues.ts';
import { healthSchema } from '../../src/config/schema.ts';
import { type ProviderHealthInput, providerHealthDefaults, resolveProviderHealthOptions } from '../../src/provider/options.ts';

// The health options are checked twice: by the config schema, and by resolveProviderHealthOptions for callers
// of createProvider that pass them directly. The two must draw the same line.
const edgeNumbers = fc.constantFrom(-1, 0, 0.5, 1, 1.5, 2, 16, 99, 100, 999, 1000, 1001, 60_000, 1_000_001, Number.NaN, '5');
const choices = {
  ...Object.fromEntries(
    Object.keys(providerHealthDefaults)
      .filter((k) => k !== 'backoff')
      .map((k) => [k, edgeNumbers]),
  ),
  'backoff.kind': fc.constantFrom('exponential', 'linear', 'fixed', 'random'),
  'backoff.jitter': fc.constantFrom('full', 'none', 'half'),
  'backoff.initialMs': edgeNumbers,
  'backoff.maxMs': edgeNumbers,
  'backoff.multiplier': edgeNumbers,
} as Record<string, fc.Arbitrary<unknown>>;

// A few fields at a time, so that one wrong value is often the only one (and decides the outcome).
const healthInput = fc
  .uniqueArray(fc.constantFrom(...Object.keys(choices)), { minLength: 1, maxLength: 3 })
  .chain((keys) => fc.tuple(...keys.map((k) => (choices[k] as fc.Arbitrary<unknown>).map((v) => [k, v] as const))))
  .map((entries) => {
    const health: Record<string, unknown> = {};
    const backoff: Record<string, unknown> = {};
    for (const [key, value] of entries) {
      if (key.startsWith('backoff.')) backoff[key.slice('backoff.'.length)] = value;
      else health[key] = value;
    }
    return Object.keys(backoff).length > 0 ? { ...health, backoff } : health;
  });

function acceptedDirectly(input: unknown): boolean {
  try {
    resolveProviderHealthOptions(input as ProviderHealthInput);
    return true;
  } catch {
    return false;
  }
}

describe('health options', () => {
  it('the config schema, with the one rule across fields (maxMs ≥ initialMs), accepts exactly what resolveProviderHealthOptions accepts', () => {
    fc.assert(
      fc.property(healthInput, (raw) => {
        const health = raw as ProviderHealthInput;
        const backoff = { ...providerHealthDefaults.backoff, ...health.backoff };
        const bySchema = schemaIssues(healthSchema, health).length === 0 && backoff.maxMs >= backoff.initialMs;
        expect(bySchema).toBe(acceptedDirectly(health));
      }),
      { numRuns: 1000 },
    );
  });
});
