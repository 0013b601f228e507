import fc from 'fast-check';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { SwitchyardError } from '../../src/errors.ts';
import { createProvider } from '../../src/provider/actor.ts';
import type { OpenAIAdapter } from '../../src/upstream/adapter.ts';

type Outcome = 'ok' | 'retryable' | 'final' | 'rateLimited';
type Step = { kind: 'call'; outcome: Outcome } | { kind: 'tick'; ms: number } | { kind: 'disable' } | { kind: 'enable' };

const completion = { id: 'x', object: 'chat.completion', created: 0, model: 'm', choices: [] } as unknown as ChatCompletion;

/** An adapter whose next outcome the test scripts. */
function scriptedAdapter() {
  let next: Outcome = 'ok';
  const adapter: OpenAIAdapter = {
    complete: async () => {
      if (next === 'ok') return completion;
      if (next === 'final') throw new SwitchyardError('provider_bad_request', 'bad', { status: 400 });
      if (next === 'rateLimited') throw new SwitchyardError('provider_rate_limited', '429', { retryable: true, retryAfterMs: 3000 });
      throw new SwitchyardError('provider_unavailable', '503', { retryable: true });
    },
    // biome-ignore lint/correctness/useYield: streams are not exercised here
    stream: async function* () {
      throw new Error('not used');
    },
  };
  return { adapter, set: (o: Outcome) => (next = o) };
}

const steps = fc.array(
  fc.oneof(
    fc.constantFrom<Outcome>('ok', 'retryable', 'final', 'rateLimited').map((outcome): Step => ({ kind: 'call', outcome })),
    fc.constantFrom<Outcome>('ok', 'retryable').map((outcome): Step => ({ kind: 'call', outcome })),
    fc.integer({ min: 0, max: 10_000 }).map((ms): Step => ({ kind: 'tick', ms })),
    fc.constantFrom<Step>({ kind: 'disable' }, { kind: 'enable' }),
  ),
  { maxLength: 50 },
);

describe('provider: machine and opossum breaker agree', () => {
  it('the breaker is closed exactly when the machine serves or probes, over any sequence of outcomes and clock steps', async () => {
    await fc.assert(
      fc.asyncProperty(steps, fc.integer(), async (script, seed) => {
        const clock = new SimulatedClock();
        const { adapter, set } = scriptedAdapter();
        const provider = createProvider(
          {
            id: 'p',
            baseURL: 'http://127.0.0.1:9/v1',
            model: 'm',
            seed,
            health: { minVolume: 3, probeIdleMs: 60_000, backoff: { initialMs: 1000, maxMs: 8000 } },
          },
          { clock, adapter },
        );
        try {
          for (const s of script) {
            if (s.kind === 'tick') clock.increment(s.ms);
            else if (s.kind === 'disable') provider.disable();
            else if (s.kind === 'enable') provider.enable();
            else {
              set(s.outcome);
              const admitted = provider.admission() !== null;
              const result = await provider.complete({ messages: [] }).then(
                () => 'ok',
                (e: SwitchyardError) => e.code,
              );
              if (!admitted) expect(result).toBe('provider_circuit_open');
              else expect(result).not.toBe('provider_circuit_open');
            }
            const health = provider.view().health;
            const serving = health === 'healthy' || health === 'degraded' || health === 'probing';
            expect(provider.breakerState()).toBe(serving ? 'closed' : 'open');
            expect(provider.view().metrics.inFlight).toBe(0);
          }
        } finally {
          provider.stop();
        }
      }),
      { numRuns: 200 },
    );
  });
});
