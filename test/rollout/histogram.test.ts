// The fixed buckets that instances' latency histograms share: a percentile of merged counts is the percentile of
// all the samples (within a bucket's width), which a mean of per-instance percentiles is not.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketCount, bucketOf, quantileOf } from '../../src/rollout/histogram.ts';

const histogram = (samples: readonly number[]) => {
  const counts = new Map<number, number>();
  for (const s of samples) counts.set(bucketOf(s), (counts.get(bucketOf(s)) ?? 0) + 1);
  return counts;
};
const merge = (...maps: Map<number, number>[]) => {
  const out = new Map<number, number>();
  for (const m of maps) for (const [k, n] of m) out.set(k, (out.get(k) ?? 0) + n);
  return out;
};
const exact = (samples: readonly number[], q: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
};

describe('latency histograms', () => {
  it('has no percentile without samples', () => {
    expect(quantileOf(new Map(), 0.95)).toBeNull();
  });

  it('keeps every duration in a bucket, the longest in the last', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(-5)).toBe(0);
    expect(bucketOf(Number.NaN)).toBe(0);
    expect(bucketOf(1e12)).toBe(bucketCount - 1);
    expect(bucketOf(100)).toBeLessThan(bucketOf(111));
  });

  it('gives the p95 of two instances merged within 10 % of the p95 of all their samples', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 2, max: 60_000 }), { minLength: 1, maxLength: 200 }),
        fc.array(fc.integer({ min: 2, max: 60_000 }), { minLength: 1, maxLength: 200 }),
        (a, b) => {
          const merged = quantileOf(merge(histogram(a), histogram(b)), 0.95) ?? 0;
          const truth = exact([...a, ...b], 0.95);
          expect(Math.abs(merged - truth) / truth).toBeLessThanOrEqual(0.1);
        },
      ),
    );
  });

  it('is not the mean of the instances p95s: one slow instance sets the cluster p95', () => {
    // 90 fast requests on one instance, 10 slow on the other: the p95 of all is slow, the mean of p95s is not.
    const fast = Array.from({ length: 90 }, () => 50);
    const slow = Array.from({ length: 10 }, () => 2000);
    const merged = quantileOf(merge(histogram(fast), histogram(slow)), 0.95) ?? 0;
    expect(merged).toBeGreaterThan(1800);
    expect((exact(fast, 0.95) + exact(slow, 0.95)) / 2).toBeLessThan(1100);
  });
});
