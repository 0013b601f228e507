// The provider machine's verdicts at their edges, and the bookkeeping that rides along with each verdict: every
// outcome is counted whatever state it moves the deployment to. Found by mutation testing (npm run mutation).

import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { admission, healthOf, providerMachine } from '../../src/provider/machine.ts';
import { noJitter, startProvider } from './harness.ts';

const counts = (p: ReturnType<typeof startProvider>) => {
  const { requests, successes, failures } = p.state().context.metrics;
  return { requests, successes, failures };
};

describe('provider machine: degraded verdicts', () => {
  it('does not degrade for slow calls below the slow-call rate', () => {
    const p = startProvider({ ...noJitter, minVolume: 4, slowCallRate: 0.5 });
    p.succeed(p.window(10, 0, 1));
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('keeps a deployment degraded by slow calls for one window, then serves it as healthy', () => {
    const p = startProvider({ ...noJitter, minVolume: 4, slowCallRate: 0.5, windowMs: 10_000 });
    p.succeed(p.window(4, 0, 2));
    p.clock.increment(9_999);
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('restarts the hold when calls are still slow while degraded', () => {
    const p = startProvider({ ...noJitter, minVolume: 4, slowCallRate: 0.5, windowMs: 10_000 });
    p.succeed(p.window(4, 0, 2));
    p.clock.increment(8000);
    p.succeed(p.window(6, 0, 3));
    p.clock.increment(8000);
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(2000);
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('does not extend the hold for a failure that leaves the window healthy', () => {
    const p = startProvider({ ...noJitter, minVolume: 2, windowMs: 10_000 });
    p.fail({}, p.window(2, 1));
    p.clock.increment(8000);
    p.fail({}, p.window(20, 2));
    p.clock.increment(2000);
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('holds a 429 for rateLimitHoldMs from when it came, however late in the clock', () => {
    const p = startProvider({ ...noJitter, rateLimitHoldMs: 3000 });
    p.clock.increment(100_000);
    p.fail({ code: 'provider_rate_limited' }, p.window(1, 1));
    p.clock.increment(2999);
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('recovers on a clean success exactly when the 429 hold ends', () => {
    const p = startProvider({ ...noJitter, rateLimitHoldMs: 3000, windowMs: 60_000 });
    p.fail({ code: 'provider_rate_limited' }, p.window(1, 1));
    p.clock.increment(3000);
    p.succeed(p.window(10, 0));
    expect(healthOf(p.state())).toBe('healthy');
  });
});

describe('provider machine: every outcome is counted', () => {
  it('counts the outcomes that move it between states as well as those that do not', () => {
    const p = startProvider({ ...noJitter, minVolume: 100, tripConsecutiveFailures: 2 });
    p.fail({ code: 'provider_rate_limited', retryAfterMs: 2000, message: 'slow down' });
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(counts(p)).toEqual({ requests: 1, successes: 0, failures: 1 });
    expect(p.state().context.lastError).toMatchObject({ code: 'provider_rate_limited', message: 'slow down' });
    // A call that was in flight when the deployment tripped still settles, and is counted.
    p.succeed();
    p.fail();
    expect(counts(p)).toEqual({ requests: 3, successes: 1, failures: 2 });
    p.clock.increment(2000);
    p.startProbe();
    p.fail({}, p.window(1, 1), true);
    expect(counts(p)).toEqual({ requests: 4, successes: 1, failures: 3 });
    p.clock.increment(p.state().context.backoffDelayMs ?? 0);
    p.startProbe();
    p.succeed(p.window(1, 0), true);
    expect(healthOf(p.state())).toBe('healthy');
    expect(counts(p)).toEqual({ requests: 5, successes: 2, failures: 3 });
    p.fail({ message: 'first' });
    p.fail({ message: 'second' });
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(counts(p)).toEqual({ requests: 7, successes: 2, failures: 5 });
    expect(p.state().context.lastError).toMatchObject({ message: 'second' });
  });

  it('counts outcomes while degraded, whether or not they change the verdict', () => {
    const p = startProvider({ ...noJitter, rateLimitHoldMs: 60_000 });
    p.fail({ code: 'provider_rate_limited' });
    expect(healthOf(p.state())).toBe('degraded');
    p.succeed(p.window(10, 0));
    p.fail({}, p.window(10, 1));
    p.fail({ code: 'provider_rate_limited' }, p.window(10, 2));
    expect(healthOf(p.state())).toBe('degraded');
    expect(counts(p)).toEqual({ requests: 4, successes: 1, failures: 3 });
  });
});

describe('provider machine: probing', () => {
  it('forgets the previous probe time while probing: the next one is not scheduled yet', () => {
    const p = startProvider();
    p.trip();
    expect(p.state().context.nextProbeAt).toBe(1000);
    p.clock.increment(1000);
    expect(healthOf(p.state())).toBe('probing');
    expect(p.state().context.nextProbeAt).toBeNull();
  });

  it('frees no probe slot when a call that was not a probe ends', () => {
    const p = startProvider();
    p.trip();
    p.clock.increment(1000);
    p.startProbe();
    p.actor.send({ type: 'call.abandoned', at: p.clock.now(), probe: false, latencyMs: 0 });
    expect(admission(p.state())).toBeNull();
  });

  it('gives every round of probing its slots back, even when an older probe never reported', () => {
    const p = startProvider({ ...noJitter, probeCount: 2 });
    p.trip();
    p.clock.increment(1000);
    p.startProbe();
    p.startProbe();
    p.fail({}, p.window(1, 1), true); // one probe failed; the other is lost
    p.clock.increment(2000);
    expect(healthOf(p.state())).toBe('probing');
    p.startProbe();
    expect(admission(p.state())).toBe('probe');
  });

  it('honours a Retry-After that a failed probe brings as the floor of the next cool-down', () => {
    const p = startProvider();
    p.trip();
    p.clock.increment(1000);
    p.startProbe();
    p.fail({ code: 'provider_rate_limited', retryAfterMs: 20_000 }, p.window(1, 1), true);
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(p.state().context.backoffDelayMs).toBe(20_000);
  });

  it('cools down again with the next delay when the circuit trips while probing', () => {
    const p = startProvider();
    p.trip();
    p.clock.increment(1000);
    p.trip();
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(p.state().context.backoffDelayMs).toBe(2000);
  });

  it('probes again after a synthetic probe that settled nothing', async () => {
    const clock = new SimulatedClock();
    let probes = 0;
    const machine = providerMachine.provide({
      actors: {
        healthProbe: fromPromise(async () => {
          probes++;
        }),
      },
    });
    const actor = createActor(machine, { input: { id: 'p1', health: { ...noJitter, probeIdleMs: 500 } }, clock }).start();
    actor.send({ type: 'circuit.tripped', at: 0 });
    clock.increment(1000);
    clock.increment(500);
    expect(probes).toBe(1);
    await Promise.resolve();
    expect(actor.getSnapshot().matches({ recovering: { probing: 'waiting' } })).toBe(true);
    clock.increment(500);
    expect(probes).toBe(2);
    actor.stop();
  });
});

describe('provider machine: seeds and the operator', () => {
  const firstDelay = (seed: number) => {
    const p = startProvider({ backoff: { kind: 'fixed', initialMs: 1_000_000, maxMs: 1_000_000, jitter: 'full' } }, seed);
    p.trip();
    return p.state().context.backoffDelayMs;
  };

  it('draws its jitter from its own seed: the same seed gives the same delays, another seed others', () => {
    expect(firstDelay(1)).toBe(firstDelay(1));
    expect(firstDelay(1)).not.toBe(firstDelay(2));
  });

  it('starts over from the first delay after an operator disabled and enabled it', () => {
    const p = startProvider();
    for (let i = 0; i < 3; i++) {
      p.trip();
      p.clock.increment(p.state().context.backoffDelayMs ?? 0);
    }
    p.actor.send({ type: 'operator.disable', at: p.clock.now() });
    expect(p.state().context.nextProbeAt).toBeNull();
    p.actor.send({ type: 'operator.enable', at: p.clock.now() });
    p.startProbe();
    p.fail({}, p.window(1, 1), true);
    expect(p.state().context.backoffDelayMs).toBe(1000);
  });
});
