// The provider machine while probing (its slots, a failed probe's Retry-After, the synthetic probe), its
// jitter seed, and the backoff after an operator's disable/enable. Found by mutation testing (npm run mutation).

import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { admission, healthOf } from '../../src/provider/health.ts';
import { providerMachine } from '../../src/provider/machine.ts';
import { noJitter, startProvider } from './harness.ts';

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

  it('frees exactly one slot when one of several probes ends', () => {
    const p = startProvider({ ...noJitter, probeCount: 2 });
    p.trip();
    p.clock.increment(1000);
    p.startProbe();
    p.startProbe();
    p.actor.send({ type: 'call.abandoned', at: p.clock.now(), probe: true, latencyMs: 0 });
    p.startProbe();
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

  it.each([
    ['answered', async () => {}],
    ['failed', async () => Promise.reject(new Error('no answer'))],
  ])('probes again after a synthetic probe that %s without settling anything', async (_name, outcome) => {
    const clock = new SimulatedClock();
    const probed: string[] = [];
    const machine = providerMachine.provide({
      actors: {
        healthProbe: fromPromise(async ({ input }) => {
          probed.push(input.id);
          await outcome();
        }),
      },
    });
    const actor = createActor(machine, { input: { id: 'p1', health: { ...noJitter, probeIdleMs: 500 } }, clock }).start();
    actor.send({ type: 'circuit.tripped', at: 0 });
    clock.increment(1000);
    clock.increment(500);
    expect(probed).toEqual(['p1']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(actor.getSnapshot().matches({ recovering: { probing: 'waiting' } })).toBe(true);
    clock.increment(500);
    expect(probed).toEqual(['p1', 'p1']);
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
