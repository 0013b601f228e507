import { afterEach, describe, expect, it } from 'vitest';
import type { MockUpstreamOptions } from '../../src/mock/server.ts';
import { failure } from '../helpers/failure.ts';
import { ask, collect, useFleet } from '../helpers/fleet.ts';
import { waitUntil } from '../helpers/wait.ts';

const start = useFleet(afterEach);
const down: MockUpstreamOptions = { faults: { mode: 'error', status: 503 } };
const cut: MockUpstreamOptions = { faults: { mode: 'cut', afterChunks: 4 } };

describe('failover for calls', () => {
  it('serves every request while one deployment is hard down', async () => {
    const f = await start({ mocks: [down, {}, {}] });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => f.runtime.chat(ask(`question ${i}`))));
    expect(results.every((r) => r.completion.choices[0]?.message.content)).toBe(true);
    expect(f.health(0)).toBe('coolingDown');
  });

  it('fails over when the key of a deployment is refused (401, 403), and takes that deployment out of rotation', async () => {
    for (const status of [401, 403]) {
      const f = await start({ mocks: [{ faults: { mode: 'error', status } }, {}], routing: { strategy: 'priority' } });
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => f.runtime.chat(ask(`q ${i}`))));
      expect(results.every((r) => r.route.deployments[0] === f.id(1))).toBe(true);
      expect(results[0]?.route.attempts[0]).toMatchObject({ deployment: f.id(0), outcome: 'provider_auth' });
      expect(f.health(0)).not.toBe('healthy');
    }
  });

  it('sends nothing to a flapping deployment while it cools down', async () => {
    const health = { minVolume: 3, probeIdleMs: 100, backoff: { initialMs: 5000, jitter: 'none' as const } };
    const f = await start({ mocks: [down, {}], simulated: true, health });
    for (let i = 0; i < 3; i++) await f.runtime.chat(ask(`warm ${i}`));
    expect(f.health(0)).toBe('coolingDown');
    const reached = f.mocks[0]?.stats().requests;
    f.mocks[0]?.heal(); // it flaps back up, but is still cooling down
    for (let i = 0; i < 20; i++) await f.runtime.chat(ask(`during ${i}`));
    expect(f.mocks[0]?.stats().requests).toBe(reached);
    f.clock?.increment(5000);
    expect(f.health(0)).toBe('probing');
    // With a healthy deployment at hand, user traffic is not spent on probes: the synthetic probe goes.
    f.clock?.increment(100);
    await waitUntil(() => f.health(0) === 'healthy');
    expect(f.mocks[0]?.stats().requests).toBe((reached ?? 0) + 1);
    const { route } = await f.runtime.chat(ask('after'));
    expect(route.deployments).toEqual([f.id(0)]);
  });

  it('keeps all of 500 concurrent requests succeeding with 30% random 5xx on two of three, within maxAttempts each', async () => {
    const flaky: MockUpstreamOptions = { faults: { mode: 'error', status: 502, rate: 0.3 } };
    const f = await start({ mocks: [flaky, flaky, {}], routing: { strategy: 'weighted', maxAttempts: 3 } });
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => f.runtime.chat(ask(`load ${i}`))));
    expect(results).toHaveLength(500);
    const attempts = results.map((r) => r.route.attempts.length);
    expect(Math.max(...attempts)).toBeLessThanOrEqual(3);
    const sent = f.mocks.reduce((n, m) => n + m.stats().requests, 0);
    expect(sent).toBe(attempts.reduce((a, b) => a + b, 0));
    expect(f.mocks[0]?.stats().outcomes.error).toBeGreaterThan(0);
  });
});

describe('failover for streams', () => {
  it('fails over invisibly when a stream breaks before its first token', async () => {
    const f = await start({ mocks: [{ faults: { mode: 'cut', afterChunks: 0 } }, {}] });
    const whole = (await f.runtime.chat({ ...ask(), model: 'chat' })).completion.choices[0]?.message.content;
    f.mocks[0]?.setFaults({ mode: 'cut', afterChunks: 0 });
    const { text, end } = await collect(f.runtime.stream(ask()));
    expect(text).toBe(whole);
    expect(end?.route).toMatchObject({ deployments: [f.id(1)], continued: false });
  });

  for (const continuation of ['exact', 'overlap', 'restart'] as const) {
    it(`continues a stream cut mid-way on an instructed deployment whose server answers ${continuation}, to the uncut text`, async () => {
      const f = await start({ mocks: [cut, { continuation }] });
      const whole = (await f.runtime.chat(ask())).completion.choices[0]?.message.content;
      const { text, end } = await collect(f.runtime.stream(ask()));
      expect(text).toBe(whole);
      expect(end?.route).toMatchObject({ deployments: [f.id(0), f.id(1)], continued: true });
      expect(end?.route.attempts.at(-1)).toMatchObject({ deployment: f.id(1), outcome: 'ok', continuation: true });
    });
  }

  it('continues on a prefill deployment with continue_final_message, repeating nothing', async () => {
    const f = await start({ mocks: [cut, { continuation: 'restart' }], providers: [{}, { continuation: 'prefill' }] });
    const whole = (await f.runtime.chat(ask())).completion.choices[0]?.message.content;
    const { text, end } = await collect(f.runtime.stream(ask()));
    expect(text).toBe(whole);
    expect(end?.route.continued).toBe(true);
  });

  it('never continues on a deployment with continuation "none"', async () => {
    const f = await start({ mocks: [cut, {}, {}], providers: [{}, { continuation: 'none' }, {}] });
    const whole = (await f.runtime.chat(ask())).completion.choices[0]?.message.content;
    const before = f.mocks[1]?.stats().requests;
    const { text, end } = await collect(f.runtime.stream(ask()));
    expect(text).toBe(whole);
    expect(end?.route.deployments).toEqual([f.id(0), f.id(2)]);
    expect(f.mocks[1]?.stats().requests).toBe(before);
  });

  it('counts a finished stream as a success of the deployment that served it, with nothing left in flight', async () => {
    const f = await start({ mocks: [{}] });
    await collect(f.runtime.stream(ask()));
    expect(f.runtime.providers()[0]?.metrics).toMatchObject({ successes: 1, inFlight: 0 });
  });

  it('ends with stream_interrupted after the delivered tokens when midStreamFailover is "error"', async () => {
    const f = await start({ mocks: [cut, {}], routing: { midStreamFailover: 'error' } });
    const seen: string[] = [];
    const err = await failure(
      (async () => {
        for await (const event of f.runtime.stream(ask())) if (event.type === 'delta') seen.push(event.content);
      })(),
    );
    expect(err).toMatchObject({ code: 'stream_interrupted' });
    expect(seen.length).toBeGreaterThan(0);
    expect(f.mocks[1]?.stats().requests).toBe(0);
  });

  it('ends with stream_interrupted when no deployment can continue', async () => {
    const f = await start({ mocks: [cut, {}], providers: [{}, { continuation: 'none' }] });
    expect(await failure(collect(f.runtime.stream(ask())))).toMatchObject({ code: 'stream_interrupted' });
  });
});

describe('hedging and cancellation', () => {
  it('hedges a slow call on another deployment, takes the first answer and aborts the loser', async () => {
    const f = await start({ mocks: [{ latencyMs: 3000 }, {}], routing: { hedgeAfterMs: 50 } });
    const { route } = await f.runtime.chat(ask());
    expect(route.deployments).toEqual([f.id(1)]);
    expect(route.attempts).toEqual([
      expect.objectContaining({ deployment: f.id(0), outcome: 'aborted' }),
      expect.objectContaining({ deployment: f.id(1), outcome: 'ok', hedge: true }),
    ]);
    await waitUntil(() => f.mocks[0]?.stats().aborted === 1 && f.mocks[0]?.stats().inFlight === 0);
  });

  it('hedges a stream whose first token is late, and aborts the slower upstream', async () => {
    const f = await start({ mocks: [{ latencyMs: 3000 }, { chunkDelayMs: 1 }], routing: { hedgeAfterMs: 50 } });
    const { end } = await collect(f.runtime.stream(ask()));
    expect(end?.route.deployments).toEqual([f.id(1)]);
    await waitUntil(() => f.mocks[0]?.stats().aborted === 1);
  });

  it('aborts the attempt in flight when the caller aborts', async () => {
    const f = await start({ mocks: [{ faults: { mode: 'hang' } }] });
    const controller = new AbortController();
    const pending = failure(f.runtime.chat(ask(), { signal: controller.signal }));
    await waitUntil(() => f.mocks[0]?.stats().inFlight === 1);
    controller.abort();
    expect(await pending).toMatchObject({ code: 'aborted' });
    await waitUntil(() => f.mocks[0]?.stats().aborted === 1);
    expect(f.health(0)).toBe('healthy');
  });

  it('aborts the upstream when the caller stops reading a stream', async () => {
    const f = await start({ mocks: [{ chunkDelayMs: 20 }] });
    for await (const event of f.runtime.stream(ask())) if (event.type === 'delta') break;
    await waitUntil(() => f.mocks[0]?.stats().aborted === 1 && f.mocks[0]?.stats().inFlight === 0);
    expect(f.runtime.providers()[0]?.metrics.inFlight).toBe(0);
  });
});
