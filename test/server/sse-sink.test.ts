// The SSE writer's byte side on a real HTTP server and socket: events written in one turn leave in one write
// and arrive whole and in order; a client that does not read stops the writer (backpressure) until it reads;
// an upstream chunk's text passes with only its top-level model replaced.

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSink, type Sink, withModel } from '../../src/server/sse-sink.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A server whose one response is handed to `use` with a sink on it; counts the writes that reach the response. */
async function sinkServer(use: (sink: Sink, res: ServerResponse) => void, limits = { bufferBytes: 64 * 1024 * 1024, stallMs: 30_000 }) {
  const state = { writes: 0, cut: '' };
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const write = res.write.bind(res);
    res.write = ((chunk: string) => {
      state.writes++;
      return write(chunk);
    }) as typeof res.write;
    use(
      createSink(res, limits, (why) => {
        state.cut = why;
        res.destroy();
      }),
      res,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state };
}

const frames = (text: string) =>
  text
    .split('\n\n')
    .filter((f) => f !== '')
    .map((f) => f.slice('data: '.length));

describe('the SSE sink', () => {
  it('sends the events written within one turn as one write, each event whole and in order', async () => {
    const { url, state } = await sinkServer((sink) => {
      for (let i = 0; i < 50; i++) sink.write(`data: {"n":${i}}\n\n`);
      setImmediate(() => setImmediate(() => sink.end('data: [DONE]\n\n')));
    });
    const text = await (await fetch(url)).text();
    expect(frames(text)).toEqual([...Array.from({ length: 50 }, (_, i) => `{"n":${i}}`), '[DONE]']);
    expect(state.writes).toBe(1);
  });

  it('puts what is still queued before the final event when the stream ends in the same turn', async () => {
    const { url, state } = await sinkServer((sink) => {
      sink.write('data: {"n":1}\n\n');
      sink.write('data: {"n":2}\n\n');
      sink.end('data: [DONE]\n\n');
    });
    expect(frames(await (await fetch(url)).text())).toEqual(['{"n":1}', '{"n":2}', '[DONE]']);
    expect(state.writes).toBe(0); // all of it went out with end()
  });

  it('makes a writer wait while the client does not read, and lets it go on once the client reads', async () => {
    const piece = `data: ${'x'.repeat(16 * 1024)}\n\n`;
    let accepted = 0;
    let waiting: Promise<boolean> | undefined;
    let blocked: () => void = () => {};
    const isBlocked = new Promise<void>((resolve) => {
      blocked = resolve;
    });
    const { url } = await sinkServer((sink) => {
      // A producer as fast as it can be: it stops only when write() hands back a promise (the socket is full).
      const produce = async () => {
        for (let i = 0; i < 100_000; i++) {
          const result = sink.write(piece);
          if (result instanceof Promise) {
            waiting = result;
            blocked();
            if (!(await result)) return;
            break;
          }
          accepted++;
        }
        for (let i = 0; i < 10; i++) if (await sink.write(piece)) accepted++;
        sink.end('data: [DONE]\n\n');
      };
      void produce();
    });
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    cleanup.push(async () => socket.destroy());
    socket.on('error', () => {});
    socket.pause(); // nothing read: the kernel's buffers fill, then the server's
    socket.write('GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    await isBlocked;
    // Stopped long before the 100,000 pieces: what is buffered is bounded by the socket, not by the producer.
    const atBlock = accepted;
    expect(atBlock).toBeLessThan(100);
    let received = '';
    socket.setEncoding('utf8');
    const ended = new Promise<void>((resolve) =>
      socket.on('data', (d: string) => {
        received += d;
        if (received.includes('data: [DONE]')) resolve();
      }),
    );
    socket.resume();
    await ended;
    expect(await waiting).toBe(true);
    expect(accepted).toBe(atBlock + 10);
    expect(received.split(piece).length - 1).toBe(accepted + 1); // and the piece that waited
  }, 20_000);

  /** A producer that writes `piece` until the sink says stop (or 10,000 times), and a client that never reads. */
  async function unreadClient(piece: string, limits: { bufferBytes: number; stallMs: number }) {
    let finished: (result: boolean) => void = () => {};
    const result = new Promise<boolean>((resolve) => {
      finished = resolve;
    });
    const { url, state } = await sinkServer((sink) => {
      const produce = async () => {
        for (let i = 0; i < 10_000; i++) if (!(await sink.write(piece))) return finished(false);
        finished(true);
      };
      void produce();
    }, limits);
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    cleanup.push(async () => socket.destroy());
    socket.on('error', () => {});
    socket.pause(); // never read
    socket.write('GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    return { result, state };
  }

  it('cuts a client that leaves more than its buffer bound unread', async () => {
    const { result, state } = await unreadClient(`data: ${'y'.repeat(16 * 1024 * 1024)}\n\n`, { bufferBytes: 256 * 1024, stallMs: 30_000 });
    expect(await result).toBe(false);
    expect(state.cut).toMatch(/bytes unread/);
  }, 20_000);

  it('cuts a client that reads nothing for its stall time', async () => {
    const { result, state } = await unreadClient(`data: ${'y'.repeat(64 * 1024)}\n\n`, { bufferBytes: 256 * 1024 * 1024, stallMs: 200 });
    expect(await result).toBe(false);
    expect(state.cut).toMatch(/read nothing for 200 ms/);
  }, 20_000);
});

describe('withModel', () => {
  const logical = JSON.stringify('chat');

  it('replaces the top-level model and keeps every other byte', () => {
    const text = '{"id":"c","created":1,"model":"gpt-x","system_fingerprint":"fp","choices":[{"delta":{"content":"a"}}],"z":1}';
    expect(withModel(text, logical)).toBe(text.replace('"gpt-x"', '"chat"'));
  });

  it('skips a "model" inside a string value and inside a nested object', () => {
    const text = '{"content":"say \\"model\\":\\"x\\"","meta":{"model":"inner"},"list":[{"model":"in list"}],"model":"outer"}';
    const out = withModel(text, logical);
    expect(out).toBeDefined();
    const parsed = JSON.parse(out ?? '{}') as Record<string, unknown>;
    expect(parsed).toEqual({ ...(JSON.parse(text) as object), model: 'chat' });
  });

  it('copes with a key that ends in an escaped quote followed by model, and spaces around the colon', () => {
    const text = '{"a\\"model":"not this","model" : "outer"}';
    expect(JSON.parse(withModel(text, logical) ?? '{}')).toEqual({ 'a"model': 'not this', model: 'chat' });
  });

  it('gives up (the writer serializes instead) without a top-level string model, or for text spread over lines', () => {
    expect(withModel('{"id":"c","choices":[]}', logical)).toBeUndefined();
    expect(withModel('{"model":null}', logical)).toBeUndefined();
    expect(withModel('{"x":{"model":"m"}}', logical)).toBeUndefined();
    expect(withModel('{"model":"m",\n"id":"c"}', logical)).toBeUndefined();
    expect(withModel('{"model":"unterminated', logical)).toBeUndefined();
  });
});
