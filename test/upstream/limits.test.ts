// Finding 4 of issue 14: an upstream cannot make the gateway buffer without bound. A non-streamed answer larger
// than `maxResponseBytes` (here one that never ends), or a stream event larger than it, fails the attempt with
// upstream_response_too_large, counted as that deployment's failure.

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/runtime.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** An upstream that answers every request with `answer`; returns a runtime with one deployment over it. */
async function runtimeOver(answer: (res: ServerResponse) => void, maxResponseBytes: number): Promise<Runtime> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  const port = (server.address() as AddressInfo).port;
  const runtime = createRuntime({
    providers: [{ id: 'big', baseURL: `http://127.0.0.1:${port}/v1`, models: { chat: 'm' }, maxResponseBytes }],
    routing: { maxAttempts: 1, deadlineMs: 10_000 },
  });
  cleanup.push(() => runtime.stop());
  return runtime;
}

/** Writes JSON-looking bytes for as long as the reader takes them (at most 64 MiB, to bound the test). */
function endless(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'application/json' });
  const piece = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const pump = () => {
    while (sent < 64 * 1024 * 1024 && !res.destroyed) {
      sent += piece.length;
      if (!res.write(piece)) return void res.once('drain', pump);
    }
    res.end();
  };
  res.write('{"choices":[],"pad":"');
  pump();
}

const ask = { model: 'chat', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('upstream answer limits', () => {
  it('stops reading an endless non-streamed answer at maxResponseBytes and counts it against the deployment', async () => {
    const runtime = await runtimeOver(endless, 1024 * 1024);
    await expect(runtime.chat(ask)).rejects.toMatchObject({ code: 'upstream_response_too_large' });
    const [view] = runtime.providers();
    expect(view?.metrics.failures).toBe(1);
    expect(view?.lastError?.code).toBe('upstream_response_too_large');
  });

  it('refuses an answer whose Content-Length is above the limit without reading it', async () => {
    const runtime = await runtimeOver((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) });
      res.write('{');
    }, 1024);
    await expect(runtime.chat(ask)).rejects.toMatchObject({ code: 'upstream_response_too_large' });
  });

  it('reads an answer under the limit', async () => {
    const body = JSON.stringify({
      id: 'c',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'fine' }, finish_reason: 'stop' }],
    });
    const runtime = await runtimeOver((res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body), body.length);
    expect((await runtime.chat(ask)).completion.choices[0]?.message.content).toBe('fine');
  });

  it('fails a stream whose one event grows past the limit, line by line', async () => {
    const runtime = await runtimeOver((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // data lines without the blank line that ends an event: each short, together unbounded.
      for (let i = 0; i < 2000; i++) res.write(`data: ${'x'.repeat(1000)}\n`);
      res.end();
    }, 64 * 1024);
    const read = async () => {
      for await (const _event of runtime.stream(ask)) {
        // nothing arrives: the event never completes
      }
    };
    await expect(read()).rejects.toMatchObject({ code: 'upstream_response_too_large' });
    expect(runtime.providers()[0]?.metrics.failures).toBe(1);
  });
});

describe('an answer refused for its declared size (review finding)', () => {
  it('releases its connection instead of leaving it taken in the pool', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000000' });
        res.write('{"choices":');
      });
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as AddressInfo).port;
    const runtime = createRuntime({
      providers: [{ id: 'big', baseURL: `http://127.0.0.1:${port}/v1`, models: { chat: 'm' }, maxResponseBytes: 100 }],
      routing: { maxAttempts: 1, deadlineMs: 10_000 },
    });
    cleanup.push(() => runtime.stop());
    for (let n = 0; n < 3; n++) {
      await expect(runtime.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({
        code: 'upstream_response_too_large',
      });
    }
    // Every refused answer's socket is closed by the gateway: none stays open waiting for the rest of the body.
    await waitForSockets(() => sockets.size === 0);
    expect(sockets.size).toBe(0);
  });
});

async function waitForSockets(done: () => boolean) {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
}
