// The order of a drain (issue 19, rolling restarts) on a SimulatedClock: /readyz 503 while requests are still
// served and every response is the last on its connection; then no new connection while in-flight streams
// finish; then a stream beyond the timeout ends with a shutting_down error event. Real servers, injected time.

import { Agent } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { InspectionRecord } from '../../src/inspection/events.ts';
import { promptOf, replyFor } from '../../src/mock/reply.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { drainStatus } from '../../src/server/drain.ts';
import { startServer } from '../../src/server/index.ts';
import { postJson, streamedContent } from '../helpers/http-exchange.ts';

const delayMs = 1000;
const timeoutMs = 5000;
const cleanup: (() => Promise<unknown> | undefined)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** Three upstreams by pace: `fast` finishes within the drain, `medium` takes about a second, `slow` outlasts it. */
async function drainingGateway() {
  const paces = { fast: 5, medium: 80, slow: 400 };
  const mocks: Record<string, MockUpstream> = {};
  for (const [name, chunkDelayMs] of Object.entries(paces)) {
    const mock = await startMockUpstream({ chunkDelayMs });
    cleanup.push(() => mock.close());
    mocks[name] = mock;
  }
  const runtime = createRuntime({
    providers: Object.entries(mocks).map(([name, m]) => ({ id: name, baseURL: m.url, models: { [name]: 'mock-model' } })),
    routing: { deadlineMs: 60_000 },
  });
  const clock = new SimulatedClock();
  const server = await startServer(runtime, {
    port: 0,
    host: '127.0.0.1',
    apiKeys: [],
    drainDelayMs: delayMs,
    drainTimeoutMs: timeoutMs,
    drainClock: clock,
  });
  let stopped: Promise<void> | undefined;
  cleanup.push(() => {
    // Whatever the test left: skip every wait, so nothing outlives it.
    stopped ??= server.shutdown();
    for (const ms of [delayMs, timeoutMs, 250]) {
      void server.shutdown();
      clock.increment(ms);
    }
    return stopped;
  });
  const agent = new Agent({ keepAlive: true });
  cleanup.push(async () => agent.destroy());
  const records: InspectionRecord[] = [];
  runtime.subscribe((r) => {
    if (r.machine === 'drain') records.push(r);
  });
  const chat = (model: string, content: string, stream = false, through = agent) =>
    postJson(`${server.url}/v1/chat/completions`, { model, stream, messages: [{ role: 'user', content }] }, through);
  const shutdown = () => {
    stopped = server.shutdown();
    return stopped;
  };
  return { server, clock, chat, records, shutdown };
}

const reply = (content: string) => replyFor(promptOf([{ role: 'user', content }]));
const refused = (url: string) =>
  fetch(`${url}/healthz`).then(
    () => false,
    () => true,
  );

describe('the order of a drain', () => {
  it('reports not-ready while serving, then finishes in-flight streams without new connections, then cuts the rest', async () => {
    const g = await drainingGateway();
    const slow = await g.chat('slow', 'outlasts the drain', true);
    // On a connection of its own, so that the next request on that agent reuses it.
    const own = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.push(async () => own.destroy());
    const medium = await g.chat('medium', 'under way when the drain starts', true, own);
    await Promise.all([slow.first, medium.first]);
    expect(medium.connection).toBe('keep-alive');

    const stopped = g.shutdown();
    // Not ready, yet serving on new connections, and each answer is the last on its connection.
    const ready = await fetch(`${g.server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'draining' });
    const metrics = await (await fetch(`${g.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^switchyard_draining 1$/m);
    const plain = await g.chat('fast', 'during the delay');
    expect(plain.status).toBe(200);
    expect(plain.connection).toBe('close');
    await plain.socketClosed();
    const fast = await g.chat('fast', 'started during the delay', true);
    expect(fast.status).toBe(200);
    expect(fast.connection).toBe('close');
    // The stream that promised keep-alive before the drain: the next answer on its connection is the last one.
    expect(streamedContent(await medium.frames)).toBe(reply('under way when the drain starts'));
    const next = await g.chat('fast', 'on the connection of the medium stream', false, medium.agent);
    expect(next.socket).toBe(medium.socket);
    expect(next.connection).toBe('close');
    await next.socketClosed();

    g.clock.increment(delayMs);
    await vi.waitFor(async () => expect(await refused(g.server.url)).toBe(true), { timeout: 5000, interval: 20 });
    const fastFrames = await fast.frames;
    expect(fastFrames.at(-1)).toBe('[DONE]');
    expect(streamedContent(fastFrames)).toBe(reply('started during the delay'));
    expect(drainStatus(g.server.app.server)).toEqual({ phase: 'closing', cutStreams: 0 });

    g.clock.increment(timeoutMs);
    const slowFrames = await slow.frames;
    expect(JSON.parse(slowFrames.at(-1) ?? 'null')).toMatchObject({ error: { code: 'shutting_down' } });
    expect(reply('outlasts the drain').startsWith(streamedContent(slowFrames))).toBe(true);
    g.clock.increment(250);
    await stopped;
    expect(drainStatus(g.server.app.server)).toEqual({ phase: 'closed', cutStreams: 1 });
    expect(g.records.map((r) => `${r.state} (${r.event})`)).toEqual([
      'notReady (signal.received)',
      'closing (after drainDelay)',
      'cutting (after drainTimeout)',
      'closed (connections.closed)',
    ]);
  });

  it('skips the rest of the delay on a second signal', async () => {
    const g = await drainingGateway();
    const stopped = g.shutdown();
    expect((await fetch(`${g.server.url}/readyz`)).status).toBe(503);
    void g.server.shutdown();
    await vi.waitFor(async () => expect(await refused(g.server.url)).toBe(true), { timeout: 5000, interval: 20 });
    // Nothing is in flight: the drain ends without the clock moving past the timeout.
    await stopped;
    expect(drainStatus(g.server.app.server).phase).toBe('closed');
  });

  it('serves /readyz 200 and switchyard_draining 0 before any signal', async () => {
    const g = await drainingGateway();
    expect((await fetch(`${g.server.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${g.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^switchyard_draining 0$/m);
    expect(metrics).toMatch(/^switchyard_drain_cut_streams_total 0$/m);
  });
});
