import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BackoffOptions, backoffDefaults, backoffDelay, baseDelay, nextRandom } from '../../src/provider/backoff.ts';

const exp: BackoffOptions = { ...backoffDefaults, initialMs: 100, maxMs: 1000, jitter: 'none' };

describe('backoff', () => {
  it('grows exponentially by the multiplier until the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => baseDelay(exp, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('grows linearly with kind linear and stays put with kind fixed', () => {
    expect([1, 2, 3].map((n) => baseDelay({ ...exp, kind: 'linear' }, n))).toEqual([100, 200, 300]);
    expect([1, 2, 3].map((n) => baseDelay({ ...exp, kind: 'fixed' }, n))).toEqual([100, 100, 100]);
  });

  it('never overflows for huge attempt numbers', () => {
    expect(baseDelay(exp, 10_000)).toBe(1000);
  });

  it('raises the delay to a Retry-After floor even above the cap', () => {
    expect(backoffDelay(exp, 1, 1, 5000)[0]).toBe(5000);
    expect(backoffDelay({ ...exp, jitter: 'full' }, 1, 1, 5000)[0]).toBe(5000);
  });

  it('keeps full-jitter delays within [0, capped base] for any seed and attempt', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 200 }), (seed, attempt) => {
        const options = { ...exp, jitter: 'full' as const };
        const [delay] = backoffDelay(options, attempt, seed);
        return delay >= 0 && delay <= baseDelay(options, attempt) && Number.isInteger(delay);
      }),
    );
  });

  it('spreads jittered delays across the range rather than clustering', () => {
    let state = 42;
    const delays: number[] = [];
    for (let i = 0; i < 400; i++) {
      const [d, next] = backoffDelay({ ...exp, jitter: 'full' }, 4, state);
      delays.push(d);
      state = next;
    }
    expect(Math.min(...delays)).toBeLessThan(100);
    expect(Math.max(...delays)).toBeGreaterThan(700);
  });

  it('replays the same delays from the same PRNG state', () => {
    expect(nextRandom(7)).toEqual(nextRandom(7));
    expect(nextRandom(7)[0]).not.toBe(nextRandom(8)[0]);
  });
});
