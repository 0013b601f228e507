// A whole answer read from undici's dispatch callbacks (src/upstream/whole-body.ts), against real HTTP servers on
// loopback: text split inside a UTF-8 character, the byte limit on declared and sent sizes, an endless error
// answer read only for its message, aborts before the connection and during the answer, and a connection
// kept for the next call.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { wholeAnswer } from '../../src/upstream/whole-body.ts';
import { waitUntil } from '../helpers/wait.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const limits = { provider: 'up', maxBytes: 1024 * 1024, maxErrorBytes: 64 * 1024 };

async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const sockets: Socket[] = [];
  let requests = 0;
  let closed = 0;
  const server = createServer((req, res) => {
    requests++;
    res.on('close', () => closed++);
    req.resume();
    req.on('end', () => answer(req, res));
  });
  server.on('connection', (socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { headersTimeout: 0, bodyTimeout: 0 });
  cleanup.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  cleanup.push(() => pool.destroy());
  const call = (signal?: AbortSignal) => wholeAnswer(pool, { method: 'POST', path: '/x', body: '{}' }, limits, signal);
  return { call, sockets, requests: () => requests, closed: () => closed };
}

describe('a whole answer read from dispatch callbacks', () => {
  it('joins pieces split inside a UTF-8 character and keeps the connection for the next call', async () => {
    const text = Buffer.from('{"a":"€ 🙂"}', 'utf8');
    const { call, sockets } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(text.subarray(0, 7));
      setTimeout(() => res.end(text.subarray(7)), 20);
    });
    const first = await call();
    expect(first).toMatchObject({ statusCode: 200, text: '{"a":"€ 🙂"}' });
    expect(first.headers['content-type']).toBe('application/json');
    // The pool frees the connection once undici is done with the answer, just after it was handed over.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await call();
    expect(sockets.length).toBe(1);
  });

  it('refuses an answer that declares or sends more than the limit, closing its connection', async () => {
    const big = 'x'.repeat(limits.maxBytes + 1);
    const declared = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(big.length) });
      res.end(big);
    });
    await expect(declared.call()).rejects.toMatchObject({ code: 'upstream_response_too_large', message: /declares/ });
    const endless = await serve((_req, res) => {
      res.writeHead(200);
      // Chunked, no length: 64 writes of 64 KiB, four times the limit.
      for (let i = 0; i < 64; i++) res.write('y'.repeat(64 * 1024));
      res.end();
    });
    await expect(endless.call()).rejects.toMatchObject({ code: 'upstream_response_too_large', message: /larger than/ });
    await waitUntil(() => endless.closed() === 1, 5000);
  });

  it('reads an error answer that never ends only as far as its message needs, then drops it', async () => {
    const errors = await serve((_req, res) => {
      res.writeHead(503);
      res.write('z'.repeat(limits.maxErrorBytes + 10));
      // …and never ends.
    });
    const answer = await errors.call();
    expect(answer.statusCode).toBe(503);
    expect(answer.text.length).toBeGreaterThanOrEqual(limits.maxErrorBytes);
    await waitUntil(() => errors.closed() === 1, 5000);
  });

  it('rejects with the signal’s reason when aborted during the answer, and never sends one aborted before', async () => {
    const slow = await serve((req, res) => {
      res.writeHead(200);
      if (req.url === '/x') res.write('{"partial":');
    });
    const during = new AbortController();
    const pending = slow.call(during.signal);
    await waitUntil(() => slow.requests() === 1, 5000);
    during.abort(new Error('client left'));
    await expect(pending).rejects.toThrow('client left');
    await waitUntil(() => slow.closed() === 1, 5000);

    const quick = await serve((_req, res) => res.end('{}'));
    const early = new AbortController();
    const aborted = quick.call(early.signal);
    early.abort(new Error('gone at once'));
    await expect(aborted).rejects.toThrow('gone at once');
    await quick.call();
    expect(quick.requests()).toBe(1);
  });
});
