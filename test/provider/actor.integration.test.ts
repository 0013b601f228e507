import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { type MockUpstreamOptions, startMockUpstream } from '../../src/mock/server.ts';
import { createProvider } from '../../src/provider/actor.ts';
import type { Provider, ProviderDeployment } from '../../src/provider/deployment.ts';
import { eventsOf } from '../helpers/answer.ts';
import { failure } from '../helpers/failure.ts';
import { waitUntil } from '../helpers/wait.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(mockOptions: MockUpstreamOptions = {}, deployment: Partial<ProviderDeployment> = {}, clock?: SimulatedClock) {
  const mock = await startMockUpstream(mockOptions);
  cleanup.push(() => mock.close());
  const provider = createProvider(
    { id: 'mock1', baseURL: mock.url, model: 'mock-model', timeoutMs: 2000, ...deployment },
    clock ? { clock } : {},
  );
  cleanup.push(() => provider.stop());
  return { mock, provider };
}

const ask = { messages: [{ role: 'user' as const, content: 'How do circuit breakers work?' }] };

async function collect(provider: Provider, signal?: AbortSignal) {
  let text = '';
  let end: unknown;
  for await (const event of eventsOf(provider.stream(ask, { signal }))) {
    if (event.type === 'delta') text += event.content;
    else end = event;
  }
  return { text, end };
}

describe('provider over HTTP to the mock upstream: success', () => {
  it('completes a chat and records tokens and latency', async () => {
    const { provider, mock } = await setup();
    const completion = await provider.complete(ask);
    expect(completion.choices[0]?.message.content).toMatch(/\.$/);
    const view = provider.view();
    expect(view.health).toBe('healthy');
    expect(view.metrics).toMatchObject({ requests: 1, successes: 1, inFlight: 0, tokensIn: completion.usage?.prompt_tokens });
    expect(view.metrics.latencyEwmaMs).not.toBeNull();
    expect(mock.stats().outcomes.ok).toBe(1);
  });

  it('streams deltas that assemble to the same reply, then the finish reason and usage', async () => {
    const { provider } = await setup({ chunkDelayMs: 1 });
    const whole = (await provider.complete(ask)).choices[0]?.message.content;
    const { text, end } = await collect(provider);
    expect(text).toBe(whole);
    expect(end).toMatchObject({ type: 'end', finishReason: 'stop', usage: { completion_tokens: expect.any(Number) } });
    expect(provider.view().metrics.ttftEwmaMs).not.toBeNull();
  });
});

describe('provider over HTTP to the mock upstream: stream bookkeeping', () => {
  it('reports a stream as a success as soon as its end event is handed over, even if nobody pulls after it', async () => {
    const { provider } = await setup();
    for await (const event of eventsOf(provider.stream(ask))) if (event.type === 'end') break;
    expect(provider.view().metrics).toMatchObject({ successes: 1, failures: 0, inFlight: 0 });
    expect(provider.view().metrics.tokensOut).toBeGreaterThan(0);
  });
});

describe('provider over HTTP to the mock upstream: faults', () => {
  it('classifies a 5xx as retryable provider_unavailable', async () => {
    const { provider, mock } = await setup({ faults: { mode: 'error', status: 503 } });
    const err = await failure(provider.complete(ask));
    expect(err).toMatchObject({ code: 'provider_unavailable', retryable: true, provider: 'mock1' });
    expect(mock.stats().outcomes.error).toBe(1);
  });

  it('classifies 400 and 404 as final errors that never count against health', async () => {
    const { provider, mock } = await setup({}, { health: { minVolume: 1 } });
    for (const [status, code] of [
      [400, 'provider_bad_request'],
      [404, 'provider_bad_request'],
    ] as const) {
      mock.setFaults({ mode: 'error', status });
      expect(await failure(provider.complete(ask))).toMatchObject({ code, retryable: false });
    }
    expect(provider.view().health).toBe('healthy');
    expect(provider.breakerState()).toBe('closed');
  });

  it('counts a refused key (401) against the deployment: it is the deployment that cannot serve', async () => {
    const { provider, mock } = await setup({}, { health: { minVolume: 1 } });
    mock.setFaults({ mode: 'error', status: 401 });
    expect(await failure(provider.complete(ask))).toMatchObject({ code: 'provider_auth', retryable: true });
    expect(provider.view().health).not.toBe('healthy');
  });

  it('passes context_length_exceeded back unchanged, not as a provider fault', async () => {
    const { provider } = await setup({ contextWindow: 50 }, { health: { minVolume: 1 } });
    const err = await failure(provider.complete({ messages: [{ role: 'user', content: 'many words '.repeat(100) }] }));
    expect(err).toMatchObject({ code: 'context_length_exceeded', retryable: false });
    expect(provider.view().health).toBe('healthy');
  });

  it('turns a 429 with Retry-After into provider_rate_limited and cools down for at least that long', async () => {
    const { provider } = await setup({ faults: { mode: 'error', status: 429, retryAfterSeconds: 2 } });
    const err = await failure(provider.complete(ask));
    expect(err).toMatchObject({ code: 'provider_rate_limited', retryable: true, retryAfterMs: 2000 });
    expect(provider.view().health).toBe('coolingDown');
    expect(provider.actor.getSnapshot().context.backoffDelayMs).toBeGreaterThanOrEqual(2000);
  });

  it('times out a hanging upstream with provider_timeout, and the upstream sees the request end', async () => {
    const { provider, mock } = await setup({ faults: { mode: 'hang' } }, { timeoutMs: 150 });
    expect(await failure(provider.complete(ask))).toMatchObject({ code: 'provider_timeout', retryable: true });
    await waitUntil(() => mock.stats().aborted === 1 && mock.stats().inFlight === 0);
  });

  it('times out a stream that goes silent between chunks', async () => {
    const { provider } = await setup({ chunkDelayMs: 400 }, { streamIdleTimeoutMs: 100 });
    expect(await failure(collect(provider))).toMatchObject({ code: 'provider_timeout', retryable: true });
  });

  it('reports a reset connection as retryable provider_unavailable', async () => {
    const { provider } = await setup({ faults: { mode: 'reset' } });
    expect(await failure(provider.complete(ask))).toMatchObject({ code: 'provider_unavailable', retryable: true });
  });

  it('reports a stream cut before its end marker as stream_interrupted, after the deltas it did deliver', async () => {
    const { provider } = await setup({ faults: { mode: 'cut', afterChunks: 2 } });
    const seen: string[] = [];
    const err = await failure(
      (async () => {
        for await (const event of eventsOf(provider.stream(ask))) if (event.type === 'delta' && event.content) seen.push(event.content);
      })(),
    );
    expect(err).toMatchObject({ code: 'stream_interrupted', retryable: true });
    expect(seen).toHaveLength(2);
    expect(provider.view().metrics.failuresByCode).toEqual({ stream_interrupted: 1 });
  });

  it('aborts on the caller signal: code aborted, the upstream sees it end, and health is untouched', async () => {
    const { provider, mock } = await setup({ faults: { mode: 'hang' } }, { health: { minVolume: 1 } });
    const controller = new AbortController();
    const pending = failure(provider.complete(ask, { signal: controller.signal }));
    await waitUntil(() => mock.stats().inFlight === 1);
    // The machine hears of a call when it settles; the deployment counts it while it is in flight.
    expect(provider.view().metrics).toMatchObject({ inFlight: 1, requests: 1, successes: 0 });
    expect(provider.inFlight()).toBe(1);
    controller.abort();
    expect(await pending).toMatchObject({ code: 'aborted', retryable: false });
    await waitUntil(() => mock.stats().aborted === 1 && mock.stats().inFlight === 0);
    expect(provider.view()).toMatchObject({ health: 'healthy', metrics: { failures: 0, inFlight: 0 } });
  });

  it('aborts a stream the consumer stops reading, without a verdict on the provider', async () => {
    const { provider, mock } = await setup({ chunkDelayMs: 20 });
    for await (const event of eventsOf(provider.stream(ask))) if (event.type === 'delta' && event.content) break;
    await waitUntil(() => mock.stats().aborted === 1 && mock.stats().inFlight === 0);
    expect(provider.view().metrics).toMatchObject({ failures: 0, successes: 0, inFlight: 0 });
  });
});

describe('provider over HTTP to the mock upstream: recovery', () => {
  it('trips, sends nothing upstream while cooling down, then probes and closes once the upstream heals', async () => {
    const clock = new SimulatedClock();
    const health = { minVolume: 3, probeIdleMs: 60_000, backoff: { initialMs: 1000, jitter: 'none' as const } };
    const { provider, mock } = await setup({ faults: { mode: 'error', status: 500 } }, { health }, clock);
    for (let i = 0; i < 3; i++) await failure(provider.complete(ask));
    expect(provider.view().health).toBe('coolingDown');
    expect(provider.breakerState()).toBe('open');
    const sent = mock.stats().requests;
    expect(await failure(provider.complete(ask))).toMatchObject({ code: 'provider_circuit_open', retryAfterMs: 1000 });
    expect(mock.stats().requests).toBe(sent);
    mock.heal();
    clock.increment(1000);
    expect(provider.view().health).toBe('probing');
    expect(provider.breakerState()).toBe('closed');
    await provider.complete(ask);
    expect(provider.view()).toMatchObject({ health: 'healthy', attempt: 0 });
  });

  it('probes with one synthetic request when no traffic comes, and recovers on its answer', async () => {
    const clock = new SimulatedClock();
    const health = { minVolume: 2, probeIdleMs: 500, backoff: { initialMs: 1000, jitter: 'none' as const } };
    const { provider, mock } = await setup({ faults: { mode: 'error', status: 502 } }, { health }, clock);
    for (let i = 0; i < 2; i++) await failure(provider.complete(ask));
    expect(provider.view().health).toBe('coolingDown');
    mock.heal();
    const sent = mock.stats().requests;
    clock.increment(1000);
    clock.increment(500);
    await waitUntil(() => provider.view().health === 'healthy');
    expect(mock.stats().requests).toBe(sent + 1);
  });
});
