// The streamed answer read from undici's dispatch callbacks (src/upstream/stream-body.ts), against real HTTP
// servers on loopback: text split inside a UTF-8 character, backpressure on a reader that is behind, aborts
// before and during the answer, the rest of an answer dropped with its connection kept, error answers, and a
// refused connection.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamBody } from '../../src/upstream/stream-body.ts';
import { streamedError } from '../../src/upstream/wire.ts';
import { freePort } from '../helpers/ports.ts';
import { waitUntil } from '../helpers/wait.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const sockets: Socket[] = [];
  const server = createServer((req, res) => {
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
  const open = (signal?: AbortSignal) => new StreamBody(pool, { method: 'POST', path: '/x', body: '{}' }, signal);
  return { open, sockets };
}

/** Everything the body brings, read as it arrives. */
async function readAll(body: StreamBody): Promise<string> {
  let text = '';
  for (let i = 0; i < 100_000 && !body.done; i++) {
    await body.wait();
    text += body.read();
  }
  return text;
}

describe('a streamed answer read from dispatch callbacks', () => {
  it('decodes UTF-8 characters split between two socket writes', async () => {
    const euro = Buffer.from('€ and 🙂', 'utf8');
    const { open } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Cut inside the three bytes of € and then inside the four of 🙂.
      res.write(euro.subarray(0, 1));
      setTimeout(() => res.write(euro.subarray(1, 9)), 20);
      setTimeout(() => res.end(euro.subarray(9)), 40);
    });
    const body = open();
    await body.head;
    expect(body.statusCode).toBe(200);
    expect(body.headers['content-type']).toBe('text/event-stream');
    expect(await readAll(body)).toBe('€ and 🙂');
  });

  it('stops reading the upstream while the reader is behind, and reads on when it catches up', async () => {
    const piece = 'x'.repeat(64 * 1024);
    const pieces = 512; // 32 MiB: far more than the socket buffers of both ends hold
    let written = 0;
    let blockedSince: number | undefined;
    let ended = false;
    const { open } = await serve((_req, res) => {
      res.writeHead(200);
      const pump = () => {
        blockedSince = undefined;
        while (written < pieces) {
          written++;
          if (!res.write(piece)) {
            blockedSince = Date.now();
            return;
          }
        }
        ended = true;
        res.end();
      };
      res.on('drain', pump);
      pump();
    });
    const body = open();
    await body.head;
    await body.wait();
    // The reader reads nothing: the upstream must end up waiting on a full socket instead of sending it all.
    await waitUntil(() => ended || (blockedSince !== undefined && Date.now() - blockedSince > 300), 10_000);
    expect(ended).toBe(false);
    expect(written).toBeLessThan(pieces);
    const text = await readAll(body);
    expect(text.length).toBe(pieces * piece.length);
    expect(body.done).toBe(true);
  });

  it('never sends a call aborted before its connection was there', async () => {
    let requests = 0;
    const { open } = await serve((_req, res) => {
      requests++;
      res.end('data: [DONE]\n\n');
    });
    const early = new AbortController();
    const aborted = open(early.signal);
    early.abort(new Error('gone at once'));
    await expect(aborted.head).rejects.toThrow('gone at once');
    // The next call on the same pool goes out after it would have: by its end, the first would have been served.
    const next = open();
    await next.head;
    await readAll(next);
    expect(requests).toBe(1);
  });

  it('rejects with the signal’s reason when aborted before the answer, and during it (the upstream sees the close)', async () => {
    let closed = 0;
    const { open } = await serve((_req, res) => {
      res.on('close', () => closed++);
      res.writeHead(200);
      res.write('data: first\n\n');
    });
    const early = new AbortController();
    early.abort(new Error('not wanted'));
    await expect(open(early.signal).head).rejects.toThrow('not wanted');

    const late = new AbortController();
    const body = open(late.signal);
    await body.head;
    await body.wait();
    expect(body.read()).toBe('data: first\n\n');
    const waiting = body.wait();
    late.abort(new Error('client left'));
    await expect(waiting).rejects.toThrow('client left');
    await waitUntil(() => closed === 1, 5000);
  });

  it('drops the rest of an answer the reader is done with and keeps its connection for the next call', async () => {
    const { open, sockets } = await serve((req, res) => {
      res.writeHead(200);
      res.write('data: [DONE]\n\n');
      if (req.url === '/x') setTimeout(() => res.end('data: trailing bytes\n\n'), 30);
    });
    const first = open();
    await first.head;
    await first.wait();
    expect(first.read()).toBe('data: [DONE]\n\n');
    first.discard(2000);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const second = open();
    await second.head;
    await second.wait();
    second.discard(2000);
    expect(sockets.length).toBe(1);
  });

  it('cuts an answer that goes on after the reader is done once the given time has passed', async () => {
    let closed = false;
    const { open } = await serve((_req, res) => {
      res.on('close', () => (closed = true));
      res.writeHead(200);
      res.write('data: [DONE]\n\n');
    });
    const body = open();
    await body.head;
    await body.wait();
    body.discard(50);
    await waitUntil(() => closed, 5000);
  });

  it('reads an error answer into the upstream’s message and code, at most 64 KiB of it', async () => {
    const { open } = await serve((req, res) => {
      if (req.url !== '/x') return res.end();
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' });
      res.end(JSON.stringify({ error: { message: 'slow down', code: 'rate_limit_exceeded' } }));
    });
    const body = open();
    await body.head;
    const error = await streamedError(body);
    expect(error.status).toBe(429);
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.message).toContain('slow down');
    expect(error.headers.get('retry-after')).toBe('3');

    const huge = await serve((_req, res) => {
      res.writeHead(500);
      // 16 MiB of text: only the first 64 KiB is read, then the call is cut.
      const block = 'e'.repeat(1024 * 1024);
      for (let i = 0; i < 16; i++) res.write(block);
      res.end();
    });
    const big = huge.open();
    await big.head;
    const bigError = await streamedError(big);
    expect(bigError.status).toBe(500);
    expect(bigError.message.length).toBeLessThanOrEqual(510);
  });

  it('rejects with the connection error when nothing listens', async () => {
    const port = await freePort();
    const pool = new Pool(`http://127.0.0.1:${port}`);
    cleanup.push(() => pool.destroy());
    const body = new StreamBody(pool, { method: 'POST', path: '/x', body: '{}' });
    await expect(body.head).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(body.wait()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
