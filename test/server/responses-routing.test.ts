// Responses requests take the chat routing path: failover before the first token, continuation after it (a
// stream cut on one deployment arrives whole through another), aborts that reach the upstream, and errors
// after the stream started as response.failed plus OpenAI's error event.

import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

const input = 'Tell me about resilient gateways.';
const cut = { mode: 'cut' as const, afterChunks: 3 };

async function collect(stream: AsyncIterable<ResponseStreamEvent>) {
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

const textOf = (events: ResponseStreamEvent[]) =>
  events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');

describe('Responses through failover and continuation', () => {
  it.each([
    ['responses', 'responses'],
    ['chat', 'chat'],
  ] as const)('fails over from a %s deployment answering 503 to a %s one', async (first, second) => {
    gateway = await startGateway({ apis: [first, second], mocks: [{ faults: { mode: 'error', status: 503 } }, {}] });
    const response = await gateway.client.responses.create({ model: 'chat', input });
    expect(response.output_text).toMatch(/\.$/);
    const route = (response as unknown as { switchyard: { deployments: string[]; attempts: { outcome: string }[] } }).switchyard;
    expect(route.deployments).toEqual(['p1/mock-model']);
    expect(route.attempts.map((a) => a.outcome)).toEqual(['provider_unavailable', 'ok']);
    const events = await collect(await gateway.client.responses.create({ model: 'chat', input, stream: true }));
    expect(textOf(events)).toBe(response.output_text);
    // The failure counted against the deployment's health, as a chat request's does.
    const failed = gateway.runtime.providers().find((p) => p.id === 'p0/mock-model');
    expect(failed?.lastError?.code).toBe('provider_unavailable');
    expect(failed?.metrics.failures).toBeGreaterThanOrEqual(1);
  });

  it('hedges a late first answer on another deployment', async () => {
    gateway = await startGateway({
      apis: ['responses', 'chat'],
      mocks: [{ latencyMs: 3000 }, {}],
      config: { routing: { deadlineMs: 10_000, hedgeAfterMs: 50 } },
    });
    const response = await gateway.client.responses.create({ model: 'chat', input });
    const route = (response as unknown as { switchyard: { deployments: string[]; attempts: { hedge?: boolean; outcome: string }[] } })
      .switchyard;
    expect(route.deployments).toEqual(['p1/mock-model']);
    expect(route.attempts.some((a) => a.hedge === true && a.outcome === 'ok')).toBe(true);
  });

  it('passes over a deployment whose rpm budget is spent, as for chat', async () => {
    const mocks = await Promise.all([startMockUpstream(), startMockUpstream()]);
    const runtime = createRuntime({
      providers: mocks.map((m, i) => ({
        id: `p${i}`,
        baseURL: m.url,
        api: 'responses' as const,
        models: { chat: 'mock-model' },
        rpm: i === 0 ? 1 : null,
      })),
      routing: { deadlineMs: 10_000 },
    });
    const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [] });
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      for (let n = 0; n < 3; n++) expect((await client.responses.create({ model: 'chat', input })).output_text).toMatch(/\.$/);
      expect(mocks.map((m) => m.stats().byRoute.responses)).toEqual([1, 2]);
    } finally {
      await server.shutdown(100);
      await Promise.all(mocks.map((m) => m.close()));
    }
  });

  it.each([
    ['responses', 'responses'],
    ['responses', 'chat'],
    ['chat', 'responses'],
    ['chat', 'chat'],
  ] as const)('a stream cut on a %s deployment arrives whole through a %s one', async (first, second) => {
    gateway = await startGateway({ apis: [first, second], mocks: [{ faults: cut }, {}] });
    const events = await collect(await gateway.client.responses.create({ model: 'chat', input, stream: true }));
    gateway.mocks[0]?.heal();
    const whole = (await gateway.client.responses.create({ model: 'chat', input, store: false })).output_text;
    expect(textOf(events)).toBe(whole);
    // One message item from start to end, under one response id.
    const added = events.filter((e) => e.type === 'response.output_item.added');
    expect(added).toHaveLength(1);
    const itemIds = new Set(events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.item_id] : [])));
    expect(itemIds.size).toBe(1);
    const completed = events.at(-1);
    if (completed?.type !== 'response.completed') throw new Error(`ended with ${completed?.type}`);
    const output = completed.response.output[0];
    expect(output?.type === 'message' && output.content[0]?.type === 'output_text' && output.content[0].text).toBe(whole);
    expect((completed.response as unknown as { switchyard: { continued: boolean } }).switchyard.continued).toBe(true);
    expect((await gateway.client.responses.retrieve(completed.response.id)).output_text).toBe(whole);
    expect(gateway.mocks[1]?.stats().requests).toBeGreaterThanOrEqual(1);
  });

  it('a stream cut with nowhere to continue ends with response.failed and an error the SDK raises', async () => {
    gateway = await startGateway({ apis: ['responses'], mocks: [{ faults: cut }] });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const event of await gateway.client.responses.create({ model: 'chat', input, stream: true })) seen.push(event.type);
    })().catch((e: unknown) => e);
    expect(seen).toContain('response.output_text.delta');
    expect(seen.at(-1)).toBe('response.failed');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('stream_interrupted');
  });

  it('a client that aborts mid-stream stops the upstream call', async () => {
    gateway = await startGateway({ apis: ['responses'], mocks: [{ chunkDelayMs: 40 }] });
    const controller = new AbortController();
    const stream = await gateway.client.responses.create({ model: 'chat', input, stream: true }, { signal: controller.signal });
    let deltas = 0;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta' && ++deltas === 2) controller.abort();
    }
    expect(controller.signal.aborted).toBe(true);
    const mock = gateway.mocks[0];
    for (let i = 0; i < 100 && mock?.stats().aborted === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(mock?.stats().aborted).toBe(1);
    // The gateway still serves.
    expect((await gateway.client.responses.create({ model: 'chat', input })).output_text).toMatch(/\.$/);
  });
});
