import { describe, expect, it } from 'vitest';
import { admission, healthOf } from '../../src/provider/health.ts';
import { noJitter, startProvider } from './harness.ts';

describe('provider machine: serving', () => {
  it('starts healthy, closes its circuit and admits normal calls', () => {
    const p = startProvider();
    expect(healthOf(p.state())).toBe('healthy');
    expect(admission(p.state())).toBe('normal');
    expect(p.circuit).toEqual(['close']);
  });

  it('degrades when the window error rate reaches the degraded threshold with enough volume', () => {
    const p = startProvider({ ...noJitter, minVolume: 5, degradedErrorRate: 0.2 });
    p.fail({}, p.window(4, 1));
    expect(healthOf(p.state())).toBe('healthy'); // below the minimum volume
    p.fail({}, p.window(5, 1));
    expect(healthOf(p.state())).toBe('degraded');
    expect(admission(p.state())).toBe('normal');
  });

  it('degrades when too many calls in the window are slow', () => {
    const p = startProvider({ ...noJitter, minVolume: 4, slowCallRate: 0.5 });
    p.succeed(p.window(4, 0, 2));
    expect(healthOf(p.state())).toBe('degraded');
  });

  it('returns to healthy once the window is clean again', () => {
    const p = startProvider({ ...noJitter, minVolume: 2 });
    p.fail({}, p.window(2, 1));
    expect(healthOf(p.state())).toBe('degraded');
    p.succeed(p.window(10, 1));
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('holds a 429 without Retry-After as degraded for rateLimitHoldMs', () => {
    const p = startProvider({ ...noJitter, rateLimitHoldMs: 5000 });
    p.fail({ code: 'provider_rate_limited' });
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(4000);
    p.succeed(p.window(10, 0));
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(1000);
    p.succeed(p.window(10, 0));
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('never lets final errors degrade or open the provider', () => {
    const p = startProvider({ ...noJitter, minVolume: 1 });
    for (const code of ['provider_bad_request', 'provider_auth', 'context_length_exceeded']) {
      // opossum counts filtered final errors as successes, so the window shows no failure.
      p.fail({ code, retryable: false }, p.window(10, 0));
    }
    expect(healthOf(p.state())).toBe('healthy');
    expect(p.state().context.metrics.failuresByCode).toEqual({
      provider_bad_request: 1,
      provider_auth: 1,
      context_length_exceeded: 1,
    });
    expect(p.state().context.metrics.consecutiveFailures).toBe(0);
  });

  it('keeps metrics: requests, successes, tokens and latency EWMA', () => {
    const p = startProvider();
    p.actor.send({
      type: 'call.succeeded',
      at: 0,
      probe: false,
      latencyMs: 100,
      ttftMs: 40,
      tokensIn: 7,
      tokensOut: 3,
      window: p.window(1, 0),
    });
    p.actor.send({ type: 'call.succeeded', at: 0, probe: false, latencyMs: 200, tokensIn: 1, tokensOut: 2, window: p.window(2, 0) });
    const m = p.state().context.metrics;
    expect(m).toMatchObject({ requests: 2, successes: 2, tokensIn: 8, tokensOut: 5, ttftEwmaMs: 40 });
    expect(m.latencyEwmaMs).toBeCloseTo(120);
    expect(m.latencySamples).toEqual([100, 200]);
  });
});

describe('provider machine: consecutive failures', () => {
  // A window diluted by earlier traffic (1000 calls, few failures) never reaches a rate threshold quickly.
  const diluted = (failures: number) => ({ calls: 1000 + failures, failures, slowCalls: 0 });

  it('opens after tripConsecutiveFailures retryable failures in a row, whatever the window says', () => {
    const p = startProvider({ ...noJitter, tripConsecutiveFailures: 3 });
    p.fail({}, diluted(1));
    p.fail({}, diluted(2));
    expect(healthOf(p.state())).toBe('healthy');
    p.fail({}, diluted(3));
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(p.circuit.at(-1)).toBe('open');
  });

  it('restarts the run on a success, and ignores final errors and 429s for it', () => {
    const p = startProvider({ ...noJitter, tripConsecutiveFailures: 3 });
    p.fail({}, diluted(1));
    p.fail({}, diluted(2));
    p.succeed(diluted(2));
    p.fail({}, diluted(3));
    p.fail({ code: 'provider_bad_request', retryable: false }, diluted(3));
    p.fail({}, diluted(4));
    expect(healthOf(p.state())).toBe('healthy');
    p.fail({ code: 'provider_rate_limited' }, diluted(5));
    // The 429 has its own rule (degraded without Retry-After), not the consecutive trip.
    expect(healthOf(p.state())).toBe('degraded');
    p.fail({}, diluted(6));
    expect(healthOf(p.state())).toBe('coolingDown');
  });

  it('is off at 0', () => {
    const p = startProvider({ ...noJitter, tripConsecutiveFailures: 0 });
    for (let i = 1; i <= 20; i++) p.fail({}, diluted(i));
    expect(healthOf(p.state())).toBe('healthy');
  });
});

describe('provider machine: recovering', () => {
  it('opens on a trip: cools down for the first backoff delay and admits nothing', () => {
    const p = startProvider();
    p.clock.set(10_000);
    p.trip();
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(admission(p.state())).toBeNull();
    expect(p.circuit.at(-1)).toBe('open');
    expect(p.state().context).toMatchObject({ attempt: 1, backoffDelayMs: 1000, nextProbeAt: 11_000 });
  });

  it('moves to probing exactly when the delay has elapsed and closes the circuit for probes', () => {
    const p = startProvider();
    p.trip();
    p.clock.increment(999);
    expect(healthOf(p.state())).toBe('coolingDown');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('probing');
    expect(p.circuit.at(-1)).toBe('close');
    expect(admission(p.state())).toBe('probe');
  });

  it('admits only probeCount probes at once while probing', () => {
    const p = startProvider({ ...noJitter, probeCount: 2 });
    p.trip();
    p.clock.increment(1000);
    p.startProbe();
    expect(admission(p.state())).toBe('probe');
    p.startProbe();
    expect(admission(p.state())).toBeNull();
    p.actor.send({ type: 'call.abandoned', at: 0, probe: true, latencyMs: 0 });
    expect(admission(p.state())).toBe('probe');
  });

  it('closes on a successful probe: healthy, backoff reset, rolling window flushed', () => {
    const p = startProvider();
    p.trip();
    p.clock.increment(1000);
    p.startProbe();
    p.succeed(p.window(1, 0), true);
    expect(healthOf(p.state())).toBe('healthy');
    expect(p.state().context).toMatchObject({ attempt: 0, backoffDelayMs: null, nextProbeAt: null });
    expect(p.circuit.slice(-2)).toEqual(['resetWindow', 'close']);
  });

  it('goes back to cooling down with the next, longer delay when a probe fails', () => {
    const p = startProvider();
    p.trip();
    p.clock.increment(1000);
    p.startProbe();
    p.fail({}, p.window(1, 1), true);
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(p.state().context).toMatchObject({ attempt: 2, backoffDelayMs: 2000 });
    expect(p.circuit.at(-1)).toBe('open');
  });

  it('caps the delay at maxMs however often probes fail', () => {
    const p = startProvider();
    p.trip();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      delays.push(p.state().context.backoffDelayMs ?? -1);
      p.clock.increment(p.state().context.backoffDelayMs ?? 0);
      p.startProbe();
      p.fail({}, p.window(1, 1), true);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('honours a Retry-After above the backoff as the floor of the delay', () => {
    const p = startProvider();
    p.fail({ code: 'provider_rate_limited', retryAfterMs: 30_000 });
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(p.state().context.backoffDelayMs).toBe(30_000);
    p.clock.increment(29_999);
    expect(healthOf(p.state())).toBe('coolingDown');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('probing');
  });

  it('keeps probing after a final error, freeing the probe slot', () => {
    const p = startProvider();
    p.trip();
    p.clock.increment(1000);
    p.startProbe();
    p.fail({ code: 'provider_bad_request', retryable: false }, p.window(1, 0), true);
    expect(healthOf(p.state())).toBe('probing');
    expect(admission(p.state())).toBe('probe');
  });

  it('sends one synthetic probe when no traffic arrives while probing', () => {
    const p = startProvider({ ...noJitter, probeIdleMs: 500 });
    p.trip();
    p.clock.increment(1000);
    p.clock.increment(499);
    expect(p.syntheticProbes()).toBe(0);
    p.clock.increment(1);
    expect(p.syntheticProbes()).toBe(1);
    expect(p.state().matches({ recovering: { probing: 'checking' } })).toBe(true);
  });

  it('sends no synthetic probe while a real probe is in flight', () => {
    const p = startProvider({ ...noJitter, probeIdleMs: 500 });
    p.trip();
    p.clock.increment(1000);
    p.startProbe();
    p.clock.increment(5000);
    expect(p.syntheticProbes()).toBe(0);
  });

  it('ignores a second trip while already cooling down', () => {
    const p = startProvider();
    p.trip();
    p.clock.increment(500);
    p.trip();
    expect(p.state().context.attempt).toBe(1);
    p.clock.increment(500);
    expect(healthOf(p.state())).toBe('probing');
  });
});

describe('provider machine: operator', () => {
  it('disables from any state and admits nothing until enabled', () => {
    for (const prepare of [(p: ReturnType<typeof startProvider>) => p, (p: ReturnType<typeof startProvider>) => p.trip()]) {
      const p = startProvider();
      prepare(p);
      p.actor.send({ type: 'operator.disable', at: 0 });
      expect(healthOf(p.state())).toBe('disabled');
      expect(admission(p.state())).toBeNull();
      expect(p.circuit.at(-1)).toBe('open');
      p.clock.increment(120_000);
      expect(healthOf(p.state())).toBe('disabled');
    }
  });

  it('comes back from disabled through probing', () => {
    const p = startProvider();
    p.actor.send({ type: 'operator.disable', at: 0 });
    p.actor.send({ type: 'operator.enable', at: 0 });
    expect(healthOf(p.state())).toBe('probing');
    p.startProbe();
    p.succeed(p.window(1, 0), true);
    expect(healthOf(p.state())).toBe('healthy');
  });
});

describe('provider machine: degraded expires', () => {
  it('returns to healthy one window after it last looked unhealthy, even with no traffic', () => {
    const p = startProvider({ ...noJitter, minVolume: 2, windowMs: 10_000 });
    p.fail({}, p.window(2, 1));
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(9_999);
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('restarts the hold on every new unhealthy outcome', () => {
    const p = startProvider({ ...noJitter, minVolume: 2, windowMs: 10_000 });
    p.fail({}, p.window(2, 1));
    p.clock.increment(8000);
    p.fail({}, p.window(3, 2));
    p.clock.increment(8000);
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(2000);
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('holds a 429 for its hold time when the window is otherwise clean', () => {
    const p = startProvider({ ...noJitter, rateLimitHoldMs: 3000 });
    p.fail({ code: 'provider_rate_limited' }, p.window(1, 1));
    p.clock.increment(2999);
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('healthy');
  });
});
