import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { admission, healthOf } from '../../src/provider/health.ts';
import { startProvider } from './harness.ts';

type Step = { kind: 'succeed' | 'fail' | 'finalFail' | 'rateLimit' | 'trip' | 'disable' | 'enable' } | { kind: 'tick'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constantFrom<Step>(
    { kind: 'succeed' },
    { kind: 'fail' },
    { kind: 'finalFail' },
    { kind: 'rateLimit' },
    { kind: 'trip' },
    { kind: 'disable' },
    { kind: 'enable' },
  ),
  fc.integer({ min: 0, max: 20_000 }).map((ms): Step => ({ kind: 'tick', ms })),
);

describe('provider machine: properties', () => {
  it('never admits a call while cooling down or disabled, and every delay stays within [0, max] or the Retry-After floor', () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 60 }),
        fc.integer(),
        fc.constantFrom('exponential', 'linear', 'fixed'),
        (steps, seed, kind) => {
          const maxMs = 8000;
          const retryAfterMs = 12_000;
          const p = startProvider({ minVolume: 3, backoff: { kind, initialMs: 500, maxMs, jitter: 'full' } }, seed);
          for (const s of steps) {
            const granted = admission(p.state());
            if (s.kind === 'tick') p.clock.increment(s.ms);
            else if (s.kind === 'trip') p.trip();
            else if (s.kind === 'disable') p.actor.send({ type: 'operator.disable', at: p.clock.now() });
            else if (s.kind === 'enable') p.actor.send({ type: 'operator.enable', at: p.clock.now() });
            else if (granted !== null) {
              const probe = granted === 'probe';
              if (probe) p.startProbe();
              if (s.kind === 'succeed') p.succeed(p.window(5, 0), probe);
              else if (s.kind === 'fail') p.fail({}, p.window(5, 3), probe);
              else if (s.kind === 'finalFail') p.fail({ code: 'provider_bad_request', retryable: false }, p.window(5, 0), probe);
              else p.fail({ code: 'provider_rate_limited', retryAfterMs }, p.window(5, 1), probe);
            }
            const snap = p.state();
            const health = healthOf(snap);
            // healthOf reads the state value directly; it must agree with XState's own matching.
            const matched = snap.matches('healthy')
              ? 'healthy'
              : snap.matches('degraded')
                ? 'degraded'
                : snap.matches({ recovering: 'coolingDown' })
                  ? 'coolingDown'
                  : snap.matches({ recovering: 'probing' })
                    ? 'probing'
                    : 'disabled';
            expect(health).toBe(matched);
            if (health === 'coolingDown' || health === 'disabled') expect(admission(snap)).toBeNull();
            const delay = snap.context.backoffDelayMs;
            if (delay !== null) {
              expect(delay).toBeGreaterThanOrEqual(0);
              expect(delay === retryAfterMs || delay <= maxMs).toBe(true);
            }
            expect(snap.context.probesInFlight).toBeLessThanOrEqual(snap.context.options.probeCount);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
