// Rollouts on the mock with two upstream models: a healthy canary ramped 10 → 50 → 100 and promoted, a canary
// failing 5 % rolled back without a client-visible failure, and subjects that keep their arm across steps.

import { afterEach, describe, expect, it } from 'vitest';
import { type Arms, ask, inBatches, oneIn, startArms } from './harness.ts';

let arms: Arms | undefined;
afterEach(async () => {
  await arms?.close();
  arms = undefined;
});

const rollout = {
  id: 'v2',
  model: 'chat',
  from: 'chat-v1',
  to: 'chat-v2',
  steps: [10, 50, 100],
  holdMs: 60_000,
  sticky: 'conversation',
  guard: { minRequests: 20, maxErrorRateIncrease: 0.02 },
};

const conversations = Array.from({ length: 1000 }, (_, i) => `conv-${i}`);

/** One request per conversation id: the arm each got, and the upstream model that answered. */
async function round(a: Arms, ids: readonly string[]) {
  const results = await inBatches(ids, 50, async (id) => {
    const { completion, route } = await a.runtime.chat(ask(`hello from ${id}`), { subject: { conversation: id } });
    return { id, variant: route.variant, upstream: completion.model };
  });
  return new Map(results.map((r) => [r.id, r]));
}

describe('rollouts', () => {
  it('ramps a healthy canary 10 → 50 → 100 and promotes it, each step after its hold', async () => {
    arms = await startArms({ rollouts: [rollout] });
    const a = arms;
    const states: string[] = [];
    const percents: number[] = [];
    for (let step = 0; step < 3; step++) {
      const view = a.runtime.rollout('v2');
      states.push(view.state);
      percents.push(view.percent);
      const served = await round(a, conversations.slice(0, 400));
      const canary = [...served.values()].filter((r) => r.variant === 'canary');
      // The arm names the upstream that answered: the canary's requests reached model-b only.
      expect(canary.every((r) => r.upstream === 'model-b')).toBe(true);
      expect(a.runtime.rollout('v2').window.canary.requests).toBeGreaterThanOrEqual(20);
      a.clock.increment(60_000);
    }
    expect(states).toEqual(['ramping.step1.holding', 'ramping.step2.holding', 'ramping.step3.holding']);
    expect(percents).toEqual([10, 50, 100]);
    const done = a.runtime.rollout('v2');
    expect(done).toMatchObject({ state: 'promoted', percent: 100, reason: null });
    expect(done.arms.canary.errors).toBe(0);
    // Promoted, every request goes to the canary's model.
    const after = await round(a, conversations.slice(0, 50));
    expect([...after.values()].every((r) => r.variant === 'canary' && r.upstream === 'model-b')).toBe(true);
  });

  it('rolls back at the first step once minRequests are in when the canary answers 500 to 5 % of requests, failing no client', async () => {
    arms = await startArms({ rollouts: [rollout] }, [{}, { faults: { mode: 'error', status: 500, rate: 0.05 }, random: oneIn(20) }]);
    const a = arms;
    const served = await round(a, conversations);
    // Every request answered (runtime.chat would have thrown otherwise); the failed canary ones by the baseline.
    expect(served.size).toBe(1000);
    const view = a.runtime.rollout('v2');
    expect(view.state).toBe('rolledBack');
    expect(view.step).toBe(1);
    expect(view.percent).toBe(0);
    expect(view.reason).toMatch(/^error rate 5\.0 % on the canary against 0\.0 % on the baseline \(1 of 20 requests/);
    // Requests already in flight when it rolled back still count: every canary error is the mock's injected 500.
    expect(Object.keys(view.arms.canary.errorsByCode)).toEqual(['provider_unavailable']);
    expect(a.mocks[1].stats().outcomes.error).toBe(view.arms.canary.errors);
    // Rolled back, nothing more reaches the canary.
    const before = a.mocks[1].stats().requests;
    const later = await round(a, conversations.slice(0, 100));
    expect([...later.values()].every((r) => r.variant === 'baseline' && r.upstream === 'model-a')).toBe(true);
    expect(a.mocks[1].stats().requests).toBe(before);
  });

  it('serves the canary subjects from the baseline while every canary deployment is down, counting each against the canary', async () => {
    arms = await startArms({ rollouts: [{ ...rollout, guard: { minRequests: 1000 } }] }, [{}, { faults: { mode: 'error', status: 503 } }]);
    const a = arms;
    const served = await round(a, conversations.slice(0, 200));
    expect([...served.values()].every((r) => r.variant === 'baseline' && r.upstream === 'model-a')).toBe(true);
    const view = a.runtime.rollout('v2');
    expect(view.arms.canary.requests).toBeGreaterThan(0);
    expect(view.arms.canary.errors).toBe(view.arms.canary.requests);
    expect(view.arms.baseline.requests).toBe(200);
  });

  it('streams a canary subject from the baseline when the canary fails before its first token, naming the baseline', async () => {
    arms = await startArms({ rollouts: [{ ...rollout, steps: [100], guard: { minRequests: 1000 } }] }, [
      {},
      { faults: { mode: 'error', status: 503 } },
    ]);
    const events = [];
    for await (const event of arms.runtime.stream(ask('stream me'), { subject: { conversation: 'c' } })) events.push(event);
    const first = events[0];
    const end = events.at(-1);
    expect(first?.type === 'delta' && first.variant).toBe('baseline');
    expect(end?.type === 'end' && end.route).toMatchObject({ model: 'chat', variant: 'baseline', deployments: ['p0/model-a'] });
    const view = arms.runtime.rollout('v2');
    expect([view.arms.canary.requests, view.arms.canary.errors, view.arms.baseline.requests]).toEqual([1, 1, 1]);
    expect(view.arms.baseline.ttftP50Ms).not.toBeNull();
  });

  it('keeps each of 1,000 conversations on its arm across steps, except those moving from baseline to canary', async () => {
    arms = await startArms({ rollouts: [rollout] });
    const a = arms;
    const byStep: Map<string, { variant: string | undefined }>[] = [];
    for (let step = 0; step < 3; step++) {
      byStep.push(await round(a, conversations));
      a.clock.increment(60_000);
    }
    const canaryShare = byStep.map((m) => [...m.values()].filter((r) => r.variant === 'canary').length / 1000);
    expect(canaryShare[0]).toBeGreaterThan(0.06);
    expect(canaryShare[0]).toBeLessThan(0.14);
    expect(canaryShare[1]).toBeGreaterThan(0.44);
    expect(canaryShare[1]).toBeLessThan(0.56);
    expect(canaryShare[2]).toBe(1);
    let moved = 0;
    for (const id of conversations) {
      const path = byStep.map((m) => m.get(id)?.variant);
      for (let s = 1; s < path.length; s++) {
        if (path[s] === path[s - 1]) continue;
        expect([path[s - 1], path[s]]).toEqual(['baseline', 'canary']);
        moved++;
      }
    }
    expect(moved).toBe(1000 - Math.round((canaryShare[0] ?? 0) * 1000));
    expect(a.runtime.rollout('v2').state).toBe('promoted');
  });
});
