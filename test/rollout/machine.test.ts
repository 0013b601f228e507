// The rollout machine on a SimulatedClock: holds, judging, guards, and the operator's commands.

import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { breachOf, createRolloutMachine, type RolloutGuard } from '../../src/rollout/machine.ts';
import type { ArmSample } from '../../src/rollout/stats.ts';

const guard: RolloutGuard = {
  minRequests: 10,
  maxErrorRateIncrease: 0.02,
  maxLatencyP95Ratio: 2,
  maxTtftP95Ratio: 2,
  latencyToleranceMs: 100,
};
const arm = (requests: number, errors = 0, latencyP95Ms: number | null = 100, ttftP95Ms: number | null = null): ArmSample => ({
  requests,
  errors,
  latencyP95Ms,
  ttftP95Ms,
});

function start(steps = [10, 50, 100], holdMs = 1000) {
  const clock = new SimulatedClock();
  const actor = createActor(createRolloutMachine(steps), { clock, input: { id: 'r', steps, holdMs, guard } });
  actor.start();
  const state = () => JSON.stringify(actor.getSnapshot().value);
  const ctx = () => actor.getSnapshot().context;
  const healthy = () => actor.send({ type: 'arms.sampled', baseline: arm(100), canary: arm(10) });
  return { clock, actor, state, ctx, healthy };
}

describe('rollout machine', () => {
  it('waits in pending with no canary traffic until started', () => {
    const r = start();
    expect(r.state()).toBe('"pending"');
    expect(r.ctx().percent).toBe(0);
    r.actor.send({ type: 'rollout.start' });
    expect(r.state()).toBe('{"ramping":{"step1":"holding"}}');
    expect(r.ctx().percent).toBe(10);
  });

  it('holds each step for holdMs and moves on only once the canary had minRequests within guards', () => {
    const r = start();
    r.actor.send({ type: 'rollout.start' });
    r.clock.increment(999);
    r.healthy();
    expect(r.ctx().percent).toBe(10);
    r.clock.increment(1);
    expect(r.state()).toBe('{"ramping":{"step2":"holding"}}');
    expect(r.ctx().percent).toBe(50);
    // The new step compares afresh: past its hold without traffic it waits in judging.
    r.clock.increment(5000);
    expect(r.state()).toBe('{"ramping":{"step2":"judging"}}');
    r.actor.send({ type: 'arms.sampled', baseline: arm(100), canary: arm(9) });
    expect(r.state()).toBe('{"ramping":{"step2":"judging"}}');
    r.healthy();
    expect(r.state()).toBe('{"ramping":{"step3":"holding"}}');
    r.healthy();
    r.clock.increment(1000);
    expect(r.state()).toBe('"promoted"');
    expect(r.ctx().percent).toBe(100);
  });

  it('rolls back with the reason once the canary errors more than allowed after minRequests', () => {
    const r = start();
    r.actor.send({ type: 'rollout.start' });
    // Below minRequests nothing is judged, however bad.
    r.actor.send({ type: 'arms.sampled', baseline: arm(50), canary: arm(9, 9) });
    expect(r.state()).toBe('{"ramping":{"step1":"holding"}}');
    r.actor.send({ type: 'arms.sampled', baseline: arm(100), canary: arm(20, 1) });
    expect(r.state()).toBe('"rolledBack"');
    expect(r.ctx().percent).toBe(0);
    expect(r.ctx().reason).toMatch(/error rate 5\.0 % on the canary against 0\.0 % on the baseline/);
  });

  it('rolls back on a latency or TTFT p95 above its ratio, and ignores a ratio set to null', () => {
    expect(breachOf(guard, { baseline: arm(100, 0, 100), canary: arm(10, 0, 250) })).toMatch(/latency p95 250 ms .* 2\.50×/);
    expect(breachOf(guard, { baseline: arm(100, 0, 100, 50), canary: arm(10, 0, 100, 150) })).toMatch(/time to first token/);
    expect(breachOf({ ...guard, maxLatencyP95Ratio: null }, { baseline: arm(100, 0, 100), canary: arm(10, 0, 250) })).toBeNull();
    expect(breachOf(guard, { baseline: arm(100, 0, 100), canary: arm(10, 0, 200) })).toBeNull();
  });

  it('never rolls back on a latency gap below the tolerance, however large the ratio (a cold connection on loopback)', () => {
    expect(breachOf(guard, { baseline: arm(100, 0, 10), canary: arm(10, 0, 109) })).toBeNull();
    expect(breachOf(guard, { baseline: arm(100, 0, 10), canary: arm(10, 0, 110) })).toMatch(/11\.00×/);
  });

  it('pauses at a step, keeps its percentage, and resumes at the same step with a fresh hold', () => {
    const r = start();
    r.actor.send({ type: 'rollout.start' });
    r.healthy();
    r.clock.increment(1000);
    r.actor.send({ type: 'operator.pause' });
    expect(r.state()).toBe('"paused"');
    expect(r.ctx().percent).toBe(50);
    r.clock.increment(10_000);
    r.healthy();
    expect(r.state()).toBe('"paused"');
    r.actor.send({ type: 'operator.resume' });
    expect(r.state()).toBe('{"ramping":{"step2":"holding"}}');
  });

  it('promotes or aborts on the operator from any live state, and then stays', () => {
    const a = start();
    a.actor.send({ type: 'operator.promote' });
    expect(a.state()).toBe('"promoted"');
    a.actor.send({ type: 'operator.abort' });
    expect(a.state()).toBe('"promoted"');
    const b = start();
    b.actor.send({ type: 'rollout.start' });
    b.actor.send({ type: 'operator.abort' });
    expect(b.state()).toBe('"rolledBack"');
    expect(b.ctx()).toMatchObject({ percent: 0, reason: 'aborted by the operator' });
  });
});
