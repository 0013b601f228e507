// The hot-path histogram of /metrics (src/server/histogram.ts) scrapes exactly as prom-client's own Histogram
// does for the same observations: the text format line for line and the JSON form, whatever the values and
// label values (bounds hit exactly, below the first bucket, above the last, labels that need escaping).

import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { labelledHistogram } from '../../src/server/histogram.ts';

const buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];

function both(observations: readonly [string, number][]) {
  const theirs = new Registry();
  const reference = new Histogram({
    name: 'h_seconds',
    help: 'Help "quoted" \\ text',
    labelNames: ['model'],
    buckets,
    registers: [theirs],
  });
  const ours = new Registry();
  const observe = labelledHistogram(ours, { name: 'h_seconds', help: 'Help "quoted" \\ text', labelName: 'model', buckets });
  for (const [model, value] of observations) {
    reference.observe({ model }, value);
    observe(model, value);
  }
  return { theirs, ours };
}

describe('the hot-path histogram', () => {
  it('scrapes as prom-client does, text and JSON, for any observations', async () => {
    const value = fc.oneof(fc.constantFrom(...buckets, 0, 60, 1e9), fc.double({ min: 0, max: 100, noNaN: true }));
    const label = fc.oneof(fc.constantFrom('chat', 'gpt-4o', '(unknown)'), fc.string({ maxLength: 8 }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(label, value), { maxLength: 60 }), async (observations) => {
        const { theirs, ours } = both(observations);
        expect(await ours.metrics()).toBe(await theirs.metrics());
        expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
      }),
      { numRuns: 200 },
    );
  });

  it('counts a value equal to a bound in that bound’s bucket, and forgets everything on reset', async () => {
    const { ours } = both([
      ['chat', 0.05],
      ['chat', 0.0500001],
      ['chat', 11],
    ]);
    const text = await ours.metrics();
    expect(text).toContain('h_seconds_bucket{le="0.05",model="chat"} 1');
    expect(text).toContain('h_seconds_bucket{le="0.1",model="chat"} 2');
    expect(text).toContain('h_seconds_bucket{le="10",model="chat"} 2');
    expect(text).toContain('h_seconds_bucket{le="+Inf",model="chat"} 3');
    expect(text).toContain('h_seconds_count{model="chat"} 3');
    ours.resetMetrics();
    expect(await ours.metrics()).not.toContain('model="chat"');
  });

  it('ignores a value that is not a finite number instead of throwing into a request', async () => {
    const ours = new Registry();
    const observe = labelledHistogram(ours, { name: 'h_seconds', help: 'h', labelName: 'model', buckets });
    observe('chat', Number.NaN);
    observe('chat', Number.POSITIVE_INFINITY);
    observe('chat', 0.2);
    expect(await ours.metrics()).toContain('h_seconds_count{model="chat"} 1');
  });
});
