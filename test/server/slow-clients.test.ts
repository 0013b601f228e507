// Findings 4 and 6 of issue 14: a client that does not read its stream, or trickles its request, cannot hold
// the gateway's memory or connections. A stream reader that leaves the buffer full is cut and its upstream call
// aborted (without counting against the deployment); a stalled body or header gets 408 and the connection
// closes; an unauthenticated request is closed after its 401.

import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { readSse } from '../helpers/sse.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  return (server.address() as AddressInfo).port;
}

const delta = (content: string) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

/** An upstream that streams 16 KB deltas for as long as it is read; `closed` resolves when its client leaves. */
async function endlessStream() {
  let onClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    onClosed = resolve;
  });
  const piece = delta('x'.repeat(16 * 1024));
  const server = createServer((req, res: ServerResponse) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.on('close', onClosed);
    let sent = 0;
    const pump = () => {
      while (!res.destroyed && sent < 20_000) {
        sent++;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
    };
    pump();
  });
  return { port: await listen(server), closed };
}

async function gateway(upstreamPort: number, options: { apiKeys?: string[]; limits?: Record<string, number> } = {}) {
  const runtime = createRuntime({
    providers: [{ id: 'p0', baseURL: `http://127.0.0.1:${upstreamPort}/v1`, models: { chat: 'm' } }],
    routing: { deadlineMs: 60_000, maxAttempts: 1 },
  });
  const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: options.apiKeys ?? [], limits: options.limits ?? {} });
  cleanup.push(() => server.shutdown(100));
  return { runtime, port: Number(new URL(server.url).port) };
}

/** A raw connection: what arrives is collected, `closed` resolves when the server closes it. */
function rawClient(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    received += d;
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  cleanup.push(async () => socket.destroy());
  return { socket, closed, received: () => received };
}

describe('slow clients', () => {
  it('cuts a streaming client that stops reading and aborts its upstream call, without blaming the deployment', async () => {
    const upstream = await endlessStream();
    const g = await gateway(upstream.port, { limits: { sseBufferBytes: 256 * 1024, sseStallMs: 200 } });
    const socket = connect(g.port, '127.0.0.1');
    socket.on('error', () => {});
    cleanup.push(async () => socket.destroy());
    const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    socket.pause(); // never read: the kernel buffers fill, then the gateway's
    await upstream.closed; // bounded by the test timeout: without the cut, the upstream streams 320 MB
    const [view] = g.runtime.providers();
    expect(view?.health).toBe('healthy');
    expect(view?.metrics.failures).toBe(0);
    expect(view?.metrics.inFlight).toBe(0);
  }, 20_000);

  it('answers a request whose body stalls with 408 and closes the connection', async () => {
    const g = await gateway((await endlessStream()).port, { limits: { bodyTimeoutMs: 300, headersTimeoutMs: 300 } });
    const client = rawClient(g.port);
    client.socket.write(
      'POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"mo',
    );
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 408/);
  }, 10_000);

  it('lets a stream that outlasts the body timeout run to its end: the timeout covers receiving the request only', async () => {
    const mock = await startMockUpstream({ chunkDelayMs: 60 });
    cleanup.push(() => mock.close());
    const runtime = createRuntime({ providers: [{ id: 'p0', baseURL: mock.url, models: { chat: 'mock-model' } }] });
    const server = await startServer(runtime, {
      port: 0,
      host: '127.0.0.1',
      apiKeys: [],
      limits: { bodyTimeoutMs: 300, headersTimeoutMs: 300 },
    });
    cleanup.push(() => server.shutdown(100));
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'a reply of many words' }], stream: true }),
    });
    const frames = await readSse(res);
    expect(frames.length).toBeGreaterThan(10); // 60 ms apart: well past the 300 ms timeout
    expect(frames.at(-1)).toBe('[DONE]');
  }, 15_000);

  it('answers a request whose headers stall with 408 and closes the connection', async () => {
    const g = await gateway((await endlessStream()).port, { limits: { bodyTimeoutMs: 300, headersTimeoutMs: 300 } });
    const client = rawClient(g.port);
    client.socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ');
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 408/);
  }, 10_000);

  it('closes an unauthenticated connection after its 401, even with its body still coming', async () => {
    const g = await gateway((await endlessStream()).port, { apiKeys: ['secret'] });
    const client = rawClient(g.port);
    client.socket.write(
      'POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"mo',
    );
    await client.closed; // with the default 10 s body timeout, only the 401's connection: close ends it early
    expect(client.received()).toMatch(/^HTTP\/1\.1 401/);
    expect(client.received().toLowerCase()).toContain('connection: close');
  }, 8_000);
});
