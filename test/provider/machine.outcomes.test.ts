// The provider machine's verdicts at their edges, and the bookkeeping that rides along with each verdict: every
// outcome is counted whatever state it moves the deployment to. Found by mutation testing (npm run mutation).

import { describe, expect, it } from 'vitest';
import { healthOf } from '../../src/provider/health.ts';
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
    p.clock.increment(1999);
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(1);
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

  it('recovers on a clean success exactly when the 429 hold ends, before the window hold does', () => {
    const p = startProvider({ ...noJitter, minVolume: 2, rateLimitHoldMs: 3000, windowMs: 60_000 });
    p.fail({}, p.window(2, 1));
    p.fail({ code: 'provider_rate_limited' }, p.window(3, 2));
    p.clock.increment(2999);
    p.succeed(p.window(10, 0));
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(1);
    p.succeed(p.window(10, 0));
    expect(healthOf(p.state())).toBe('healthy');
  });
});

describe('provider machine: verdicts while degraded', () => {
  // Degraded by a 429 held for a minute: each case below is a new outcome during the hold.
  const degraded = () => {
    const p = startProvider({ ...noJitter, minVolume: 100, rateLimitHoldMs: 60_000, tripConsecutiveFailures: 3 });
    p.fail({ code: 'provider_rate_limited' });
    expect(healthOf(p.state())).toBe('degraded');
    return p;
  };

  it('cools down for at least the Retry-After of a new 429, and counts it', () => {
    const p = degraded();
    p.fail({ code: 'provider_rate_limited', retryAfterMs: 30_000, message: 'later' });
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(p.state().context.backoffDelayMs).toBe(30_000);
    expect(counts(p)).toEqual({ requests: 2, successes: 0, failures: 2 });
    expect(p.state().context.lastError).toMatchObject({ message: 'later' });
  });

  it('opens after a run of failures, counting the one that completed it and honouring its Retry-After', () => {
    const p = degraded(); // the 429 is the first retryable failure of the run
    p.fail();
    expect(healthOf(p.state())).toBe('degraded');
    p.fail({ retryAfterMs: 20_000, message: 'third' });
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(p.state().context.backoffDelayMs).toBe(20_000);
    expect(counts(p)).toEqual({ requests: 3, successes: 0, failures: 3 });
    expect(p.state().context.lastError).toMatchObject({ message: 'third' });
  });

  it('holds a new 429 from when it came', () => {
    const p = startProvider({ ...noJitter, rateLimitHoldMs: 3000 });
    p.fail({ code: 'provider_rate_limited' });
    p.clock.increment(2000);
    p.fail({ code: 'provider_rate_limited' }, p.window(2, 2));
    p.clock.increment(2999);
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('healthy');
    expect(counts(p)).toEqual({ requests: 2, successes: 0, failures: 2 });
  });

  it('holds a 429 that comes late in a window hold for its own hold time', () => {
    const p = startProvider({ ...noJitter, minVolume: 2, rateLimitHoldMs: 3000, windowMs: 10_000 });
    p.fail({}, p.window(2, 1));
    p.clock.increment(9000);
    p.fail({ code: 'provider_rate_limited' }, p.window(100, 2));
    p.clock.increment(2999);
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('stays degraded for a whole window when failures pile up during a short 429 hold, counting them', () => {
    const p = startProvider({ ...noJitter, minVolume: 2, rateLimitHoldMs: 3000, windowMs: 10_000 });
    p.fail({ code: 'provider_rate_limited' }, p.window(1, 1));
    p.clock.increment(1000);
    p.fail({}, p.window(4, 2));
    p.clock.increment(9999);
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('healthy');
    expect(counts(p)).toEqual({ requests: 2, successes: 0, failures: 2 });
  });

  it('stays degraded for a whole window when calls turn slow during a short 429 hold', () => {
    const p = startProvider({ ...noJitter, minVolume: 4, slowCallRate: 0.5, rateLimitHoldMs: 3000, windowMs: 10_000 });
    p.fail({ code: 'provider_rate_limited' });
    p.clock.increment(1000);
    p.succeed(p.window(4, 0, 2));
    p.clock.increment(9999);
    expect(healthOf(p.state())).toBe('degraded');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('healthy');
    expect(counts(p)).toEqual({ requests: 2, successes: 1, failures: 1 });
  });
});

describe('provider machine: what opens it', () => {
  it('honours the Retry-After of the failure that completes a run', () => {
    const p = startProvider({ ...noJitter, minVolume: 100, tripConsecutiveFailures: 2 });
    p.fail();
    p.fail({ retryAfterMs: 15_000 });
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(p.state().context.backoffDelayMs).toBe(15_000);
  });

  it('does not open for one 503 with a Retry-After: only a 429 says to wait', () => {
    const p = startProvider();
    p.fail({ code: 'provider_unavailable', retryAfterMs: 5000 });
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('does not let a final error complete a run of retryable failures', () => {
    const p = startProvider({ ...noJitter, tripConsecutiveFailures: 3 });
    p.fail({}, p.window(100, 1));
    p.fail({}, p.window(100, 2));
    p.fail({ code: 'provider_bad_request', retryable: false }, p.window(100, 2));
    expect(healthOf(p.state())).toBe('healthy');
  });

  it('counts the outcome that degrades it, whether a slow success or a failure', () => {
    const slow = startProvider({ ...noJitter, minVolume: 4, slowCallRate: 0.5 });
    slow.succeed(slow.window(4, 0, 2));
    expect(counts(slow)).toEqual({ requests: 1, successes: 1, failures: 0 });
    const failing = startProvider({ ...noJitter, minVolume: 2 });
    failing.fail({}, failing.window(2, 1));
    expect(healthOf(failing.state())).toBe('degraded');
    expect(counts(failing)).toEqual({ requests: 1, successes: 0, failures: 1 });
    failing.succeed(failing.window(10, 1));
    expect(healthOf(failing.state())).toBe('healthy');
    expect(counts(failing)).toEqual({ requests: 2, successes: 1, failures: 1 });
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
