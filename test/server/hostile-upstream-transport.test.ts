// The upstream transport (src/upstream/stream-body.ts, whole-body.ts) through the real gateway, with a hostile
// upstream on raw sockets and real clients (the openai SDK, raw sockets): failover after a reset before and after
// the first token and on a non-streamed call, a client that leaves mid-stream (the upstream sees its socket
// close), and a client that does not read while the upstream sends fast (the upstream is paused, not buffered).

import { connect } from 'node:net';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { chunked, httpHead, type RawExchange, rawUpstream, sseChunk } from '../helpers/raw-upstream.ts';
import { waitUntil } from '../helpers/wait.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A gateway whose first deployment is the raw upstream; a well-behaved mock is second when `fallback`. */
async function gatewayOver(answer: (exchange: RawExchange) => void, options: { fallback?: boolean; limits?: Record<string, number> } = {}) {
  const up = await rawUpstream(answer);
  cleanup.push(() => up.close());
  const mock = await startMockUpstream({});
  cleanup.push(() => mock.close());
  const providers: SwitchyardConfigInput['providers'] = [
    { id: 'raw', baseURL: up.url, models: { chat: 'm' }, timeoutMs: 2000, streamIdleTimeoutMs: 2000 },
  ];
  if (options.fallback) providers.push({ id: 'mock', baseURL: mock.url, models: { chat: 'mock-model' } });
  const runtime = createRuntime({ providers, routing: { deadlineMs: 20_000 } });
  const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [], limits: options.limits ?? {} });
  cleanup.push(() => server.shutdown(100));
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  return { up, mock, runtime, client, port: Number(new URL(server.url).port) };
}

const ask = { model: 'chat', messages: [{ role: 'user' as const, content: 'say something' }] };

describe('failover over a broken upstream', () => {
  it('answers from the next deployment when the first resets a stream before its first token', async () => {
    const g = await gatewayOver(
      ({ socket }) => {
        socket.write(
          httpHead('200 OK', [
            ['content-type', 'text/event-stream'],
            ['transfer-encoding', 'chunked'],
          ]),
        );
        setTimeout(() => socket.resetAndDestroy(), 20);
      },
      { fallback: true },
    );
    let text = '';
    for await (const chunk of await g.client.chat.completions.create({ ...ask, stream: true }))
      text += chunk.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(g.mock.stats().requests).toBe(1);
  });

  it('continues on the next deployment when the first resets a stream after its first token', async () => {
    const g = await gatewayOver(
      ({ socket }) => {
        socket.write(
          httpHead('200 OK', [
            ['content-type', 'text/event-stream'],
            ['transfer-encoding', 'chunked'],
          ]),
        );
        socket.write(chunked(sseChunk('Hello from raw. ')));
        setTimeout(() => socket.resetAndDestroy(), 50);
      },
      { fallback: true },
    );
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of await g.client.chat.completions.create({ ...ask, stream: true })) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text.startsWith('Hello from raw. ')).toBe(true);
    expect(text.length).toBeGreaterThan('Hello from raw. '.length);
    expect(finish).toBe('stop');
    expect(g.mock.stats().requests).toBe(1);
  });

  it('answers a non-streamed call from the next deployment when the first resets mid-body', async () => {
    const g = await gatewayOver(
      ({ socket }) => {
        socket.write(
          `${httpHead('200 OK', [
            ['content-type', 'application/json'],
            ['content-length', '500'],
          ])}{"id":"c1","choi`,
        );
        setTimeout(() => socket.resetAndDestroy(), 20);
      },
      { fallback: true },
    );
    const answer = await g.client.chat.completions.create(ask);
    expect(answer.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(g.mock.stats().requests).toBe(1);
  });
});

describe('clients that leave or do not read', () => {
  it('aborts the upstream call when the client leaves mid-stream: the upstream sees its socket close', async () => {
    const g = await gatewayOver(({ socket }) => {
      socket.write(
        httpHead('200 OK', [
          ['content-type', 'text/event-stream'],
          ['transfer-encoding', 'chunked'],
        ]),
      );
      socket.write(chunked(sseChunk('first ')));
      // Then nothing: only the gateway can end this call.
    });
    const controller = new AbortController();
    const stream = await g.client.chat.completions.create({ ...ask, stream: true }, { signal: controller.signal });
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (text !== '') controller.abort();
    }
    expect(text).toBe('first ');
    await waitUntil(() => g.up.closedSockets() === 1, 5000);
    const [view] = g.runtime.providers();
    expect(view?.metrics.failures).toBe(0);
    await waitUntil(() => g.runtime.providers()[0]?.metrics.inFlight === 0, 5000);
  });

  it('aborts the upstream call when the client leaves before the first token, streamed and not', async () => {
    const g = await gatewayOver(({ socket, head }) => {
      // A head, then silence: the gateway waits for a first token or a body that never comes.
      const type = head.includes('text/event-stream') ? 'text/event-stream' : 'application/json';
      socket.write(
        httpHead('200 OK', [
          ['content-type', type],
          ['transfer-encoding', 'chunked'],
        ]),
      );
    });
    for (const stream of [true, false]) {
      const before = g.up.closedSockets();
      const client = connect(g.port, '127.0.0.1');
      client.on('error', () => {});
      cleanup.push(async () => client.destroy());
      const body = JSON.stringify({ ...ask, stream });
      client.write(
        `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      await waitUntil(() => g.up.requests() === (stream ? 1 : 2), 5000);
      client.destroy();
      await waitUntil(() => g.up.closedSockets() === before + 1, 5000);
    }
    expect(g.runtime.providers()[0]?.metrics.failures).toBe(0);
  });

  it('pauses an upstream that sends fast while the client does not read, and aborts it when the client leaves', async () => {
    const piece = chunked(sseChunk('x'.repeat(16 * 1024)));
    const pieces = 20_000; // 320 MB: without backpressure it would all be sent long before the client leaves
    let sent = 0;
    let blockedSince: number | undefined;
    const g = await gatewayOver(
      ({ socket }) => {
        socket.write(
          httpHead('200 OK', [
            ['content-type', 'text/event-stream'],
            ['transfer-encoding', 'chunked'],
          ]),
        );
        const pump = () => {
          blockedSince = undefined;
          while (!socket.destroyed && sent < pieces) {
            sent++;
            if (!socket.write(piece)) {
              blockedSince = Date.now();
              return void socket.once('drain', pump);
            }
          }
        };
        pump();
      },
      // Neither limit cuts this client: only backpressure holds the upstream.
      { limits: { sseBufferBytes: 64 * 1024 * 1024, sseStallMs: 60_000 } },
    );
    const client = connect(g.port, '127.0.0.1');
    client.on('error', () => {});
    cleanup.push(async () => client.destroy());
    const body = JSON.stringify({ ...ask, stream: true });
    client.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    client.pause(); // never read
    await waitUntil(() => sent >= pieces || (blockedSince !== undefined && Date.now() - blockedSince > 500), 15_000);
    expect(sent).toBeLessThan(pieces);
    // Socket buffers of both hops and the gateway's 64 K characters: far below what was offered.
    expect(sent * piece.length).toBeLessThan(64 * 1024 * 1024);
    client.destroy();
    await waitUntil(() => g.up.closedSockets() === 1, 5000);
  }, 30_000);
});
