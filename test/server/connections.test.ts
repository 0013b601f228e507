// Per-connection tracking (src/server/connections.ts) in place of a listener per response: a plain request's
// client that goes away still aborts its upstream call, on a fresh or a reused keep-alive connection, and a
// drain still makes the plain answer in flight when it starts the last one on its connection. Real servers and sockets; the drain on a SimulatedClock.

import { Agent } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { postJson } from '../helpers/http-exchange.ts';
import { waitUntil } from '../helpers/wait.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function gateway(latencyMs: number): Promise<Gateway> {
  const g = await startGateway({ mocks: [{ latencyMs }] });
  cleanup.push(() => g.close());
  return g;
}

const body = (content: string) => ({ model: 'chat', messages: [{ role: 'user', content }] });

describe('a plain request whose client goes away', () => {
  it('aborts its upstream call without blaming the deployment', async () => {
    const g = await gateway(5000);
    const controller = new AbortController();
    const answer = fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body('never read')),
      signal: controller.signal,
    }).catch(() => 'gone');
    const mock = g.mocks[0];
    await waitUntil(() => mock?.stats().inFlight === 1, 3000);
    controller.abort();
    expect(await answer).toBe('gone');
    await waitUntil(() => mock?.stats().aborted === 1 && mock.stats().inFlight === 0, 3000);
    await waitUntil(() => g.runtime.providers()[0]?.metrics.inFlight === 0, 3000);
    expect(g.runtime.providers()[0]?.health).toBe('healthy');
    expect(g.runtime.decisions().at(-1)?.outcome).toBe('aborted');
  });

  it('aborts the call of a later request on a reused keep-alive connection, and never one that finished', async () => {
    const g = await gateway(300);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.push(() => agent.destroy());
    const first = await postJson(`${g.url}/v1/chat/completions`, body('answered'), agent);
    expect(first.status).toBe(200);
    await first.body;
    const mock = g.mocks[0];
    await waitUntil(() => mock?.stats().inFlight === 0);
    // The second request rides the first one's connection; its client then destroys that connection.
    const second = new Promise<void>((resolve) => {
      void postJson(`${g.url}/v1/chat/completions`, body('abandoned'), agent).then(
        () => resolve(),
        () => resolve(),
      );
    });
    await waitUntil(() => mock?.stats().inFlight === 1, 3000);
    expect(mock?.stats().requests).toBe(2);
    first.socket.destroy();
    await second;
    await waitUntil(() => mock?.stats().aborted === 1 && mock.stats().inFlight === 0, 3000);
    expect(g.runtime.decisions().map((d) => d.outcome)).toEqual(['ok', 'aborted']);
  });
});

describe('a drain and the plain answers in flight', () => {
  it('makes a plain answer still being prepared when the drain starts the last on its keep-alive connection', async () => {
    const mock = await startMockUpstream({ latencyMs: 400 });
    cleanup.push(() => mock.close());
    const runtime = createRuntime({ providers: [{ id: 'p', baseURL: mock.url, models: { chat: 'mock-model' } }] });
    const clock = new SimulatedClock();
    const server = await startServer(runtime, {
      port: 0,
      host: '127.0.0.1',
      apiKeys: [],
      drainDelayMs: 1000,
      drainTimeoutMs: 5000,
      drainClock: clock,
    });
    let stopped: Promise<void> | undefined;
    cleanup.push(() => {
      stopped ??= server.shutdown();
      for (const ms of [1000, 5000, 250]) {
        void server.shutdown();
        clock.increment(ms);
      }
      return stopped;
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.push(() => agent.destroy());
    // A first answer before the drain: the connection is kept alive.
    const before = await postJson(`${server.url}/v1/chat/completions`, body('before'), agent);
    await before.body;
    expect(before.connection).toBe('keep-alive');
    await waitUntil(() => mock.stats().inFlight === 0);
    // The second one is at the upstream (its headers not yet written) when the drain starts.
    const pending = postJson(`${server.url}/v1/chat/completions`, body('in flight'), agent);
    await waitUntil(() => mock.stats().inFlight === 1, 3000);
    stopped = server.shutdown();
    const during = await pending;
    expect(during.status).toBe(200);
    expect(during.socket).toBe(before.socket);
    expect(during.connection).toBe('close');
    await during.socketClosed();
  });
});
