// A rollout's arms summed across the cluster: every instance adds its outcomes to two Redis hashes (since start,
// and the current step's window) through shared-arms.ts, and the driving instance judges the guards on the
// merged window each time it is read. Each step window has its own hash, named by an epoch the driver draws
// when it enters a step and publishes with its state (cluster.ts): counts made under an old step, even when
// their flush lands after the change, go to the old hash and never count in the new step.

import type { ArmName, Rollout } from './rollout.ts';
import type { SharedArms } from './shared-arms.ts';
import type { ArmFigures, ArmSample } from './stats.ts';

const armNames: readonly ArmName[] = ['baseline', 'canary'];
const none: ArmFigures = {
  requests: 0,
  errors: 0,
  latencyP95Ms: null,
  ttftP95Ms: null,
  errorsByCode: {},
  latencyP50Ms: null,
  ttftP50Ms: null,
  tokensIn: 0,
  tokensOut: 0,
};

const byArm = (m: Map<string, ArmFigures>): Record<ArmName, ArmFigures> => ({
  baseline: m.get('baseline') ?? none,
  canary: m.get('canary') ?? none,
});
const sample = (f: ArmFigures): ArmSample => ({
  requests: f.requests,
  errors: f.errors,
  latencyP95Ms: f.latencyP95Ms,
  ttftP95Ms: f.ttftP95Ms,
});

/** Sends a rollout's outcomes to the cluster's sums; `keyBase` is the rollout's hash-tagged key. */
export function shareRolloutArms(arms: SharedArms, rollout: Rollout, keyBase: string, instanceId: string) {
  let drawn = 0;
  // Unique across instances and restarts: an epoch names one step window of one driver.
  const draw = () => `${instanceId}.${Date.now().toString(36)}.${++drawn}`;
  let epoch = draw();
  const windowKey = (e: string) => `${keyBase}:window:${e}`;
  const window = arms.counter(windowKey(epoch), armNames);
  const totals = arms.counter(`${keyBase}:arms`, armNames);

  let sent = '';
  /** Moves to the step window `next` (the driver's, as published). */
  const adopt = (next: string) => {
    if (next === epoch) return;
    epoch = next;
    sent = '';
    window.rekey(windowKey(next));
  };

  rollout.role.shared = {
    observe(arm, outcome) {
      window.record(arm, outcome);
      totals.record(arm, outcome);
    },
    // A follower enters a step because the driver did: it takes the driver's epoch from the state it follows.
    stepEntered: () => {
      if (rollout.role.driving) adopt(draw());
    },
    figures() {
      const w = window.figures();
      const t = totals.figures();
      return w && t ? { window: byArm(w), arms: byArm(t) } : null;
    },
  };
  window.onRead((figures) => {
    if (!rollout.role.driving || !rollout.actor.getSnapshot().matches('ramping')) return;
    const merged = byArm(figures);
    const arms = { baseline: sample(merged.baseline), canary: sample(merged.canary) };
    // The same figures again would only be another event in the inspector.
    const text = JSON.stringify(arms);
    if (text === sent) return;
    sent = text;
    rollout.actor.send({ type: 'arms.sampled', ...arms });
  });

  return {
    epoch: () => epoch,
    adopt,
    stop() {
      rollout.role.shared = null;
      window.release();
      totals.release();
    },
  };
}
