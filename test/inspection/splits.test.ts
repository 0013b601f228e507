// The guard readings the inspector shows beside each rollout: the same verdict as the rollout machine's own
// breachOf, so the page never shows a guard as holding while the actor rolls back (or the reverse).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { guardReadings } from '../../src/inspection/splits.ts';
import { breachOf, type RolloutGuard } from '../../src/rollout/machine.ts';
import type { ArmSample } from '../../src/rollout/stats.ts';

const guard: RolloutGuard = {
  minRequests: 20,
  maxErrorRateIncrease: 0.02,
  maxLatencyP95Ratio: 2,
  maxTtftP95Ratio: 1.5,
  latencyToleranceMs: 100,
};
const sample = (requests: number, errors: number, latencyP95Ms: number | null, ttftP95Ms: number | null): ArmSample => ({
  requests,
  errors,
  latencyP95Ms,
  ttftP95Ms,
});

const arm = fc
  .tuple(fc.nat(200), fc.nat(200), fc.option(fc.nat(3000)), fc.option(fc.nat(3000)))
  .map(([requests, errors, latency, ttft]) => sample(requests, Math.min(errors, requests), latency, ttft));
const guards = fc.record({
  minRequests: fc.integer({ min: 1, max: 150 }),
  maxErrorRateIncrease: fc.double({ min: 0, max: 1, noNaN: true }),
  maxLatencyP95Ratio: fc.option(fc.double({ min: 1, max: 5, noNaN: true })),
  maxTtftP95Ratio: fc.option(fc.double({ min: 1, max: 5, noNaN: true })),
  latencyToleranceMs: fc.nat(300),
});

describe('guard readings', () => {
  it('show a breached guard exactly when the rollout machine finds a breach', () => {
    fc.assert(
      fc.property(guards, arm, arm, (g, baseline, canary) => {
        const breached = guardReadings(g, { baseline, canary }).some((r) => r.status === 'breached');
        expect(breached).toBe(breachOf(g, { baseline, canary }) !== null);
      }),
      { numRuns: 2000 },
    );
  });

  it('wait below minRequests and show what the arms measure against each limit', () => {
    const waiting = guardReadings(guard, { baseline: sample(50, 0, 100, 40), canary: sample(10, 1, 150, 90) });
    expect(waiting.map((r) => [r.name, r.status])).toEqual([
      ['minRequests', 'waiting'],
      ['errorRateIncrease', 'waiting'],
      ['latencyP95Ratio', 'waiting'],
      ['ttftP95Ratio', 'waiting'],
    ]);
    expect(waiting.map((r) => [r.measured, r.limit])).toEqual([
      [10, 20],
      [0.1, 0.02],
      [1.5, 2],
      [2.25, 1.5],
    ]);
    // Judged: the error rate breaches; the first-token ratio is over its limit but within the tolerance.
    const judged = guardReadings(guard, { baseline: sample(50, 0, 100, 40), canary: sample(20, 1, 150, 90) });
    expect(judged.map((r) => r.status)).toEqual(['ok', 'breached', 'ok', 'ok']);
    const off = guardReadings(
      { ...guard, maxLatencyP95Ratio: null },
      { baseline: sample(0, 0, null, null), canary: sample(0, 0, null, null) },
    );
    expect(off.map((r) => [r.name, r.measured, r.status])).toEqual([
      ['minRequests', 0, 'waiting'],
      ['errorRateIncrease', null, 'waiting'],
      ['latencyP95Ratio', null, 'off'],
      ['ttftP95Ratio', null, 'waiting'],
    ]);
  });
});
