// What the inspector shows of experiments and rollouts besides their states: each rollout guard's limit beside
// the value the arms measure now, so a reader sees how close the canary is to a rollback before it happens.
// Read from the arms' figures once a second while the inspector has a reader: nothing per request. Pure.

import type { Arms, RolloutGuard } from '../rollout/machine.ts';
import type { ArmSample } from '../rollout/stats.ts';

export type GuardName = 'minRequests' | 'errorRateIncrease' | 'latencyP95Ratio' | 'ttftP95Ratio';

/** One guard: its limit, what the arms in the current step measure, and the verdict. */
export interface GuardReading {
  name: GuardName;
  /** minRequests: the canary's requests; errorRateIncrease: canary minus baseline error rate (0.03 = 3 points); ratios: canary p95 / baseline p95. */
  measured: number | null;
  limit: number | null;
  /**
   * `waiting`: the canary has fewer than minRequests in the step, so nothing is judged yet; `off`: the guard is
   * disabled (a null ratio); `breached`: this guard rolls the rollout back.
   */
  status: 'waiting' | 'ok' | 'breached' | 'off';
}

const rate = (arm: ArmSample) => (arm.requests === 0 ? 0 : arm.errors / arm.requests);

function ratioReading(
  name: GuardName,
  limit: number | null,
  tolerance: number,
  canary: number | null,
  baseline: number | null,
  judged: boolean,
): GuardReading {
  const measured = canary === null || baseline === null || baseline <= 0 ? null : canary / baseline;
  if (limit === null) return { name, measured, limit, status: 'off' };
  if (!judged) return { name, measured, limit, status: 'waiting' };
  // The same rule as the machine's breachOf: a canary only slightly slower in absolute terms never breaches.
  const breached = measured !== null && canary !== null && baseline !== null && canary - baseline >= tolerance && measured > limit;
  return { name, measured, limit, status: breached ? 'breached' : 'ok' };
}

/** Each guard of a rollout against the arms of its current step. */
export function guardReadings(guard: RolloutGuard, arms: Arms): GuardReading[] {
  const { baseline, canary } = arms;
  const judged = canary.requests >= guard.minRequests;
  const increase = canary.requests === 0 ? null : rate(canary) - rate(baseline);
  return [
    { name: 'minRequests', measured: canary.requests, limit: guard.minRequests, status: judged ? 'ok' : 'waiting' },
    {
      name: 'errorRateIncrease',
      measured: increase,
      limit: guard.maxErrorRateIncrease,
      status: !judged ? 'waiting' : increase !== null && increase > guard.maxErrorRateIncrease ? 'breached' : 'ok',
    },
    ratioReading('latencyP95Ratio', guard.maxLatencyP95Ratio, guard.latencyToleranceMs, canary.latencyP95Ms, baseline.latencyP95Ms, judged),
    ratioReading('ttftP95Ratio', guard.maxTtftP95Ratio, guard.latencyToleranceMs, canary.ttftP95Ms, baseline.ttftP95Ms, judged),
  ];
}
