// The upstream transport (src/upstream/stream-body.ts, whole-body.ts) against a hostile or broken upstream on raw
// sockets, through the real adapter: informational answers before the real one, silence after the head, bytes
// one at a time, bodies shorter or longer than declared, bad chunk sizes, resets mid-body, error answers that
// never end or are cut, and the error codes each ends with (the ones request()'s Readable gave before).

import { afterEach, describe, expect, it } from 'vitest';
import type { OpenAIAdapter } from '../../src/upstream/adapter.ts';
import { eventsOf } from '../helpers/answer.ts';
import { failure } from '../helpers/failure.ts';
import { chunked, completionJson, httpHead, type RawExchange, rawAdapter, sseAnswer, sseChunk } from '../helpers/raw-upstream.ts';
import { waitUntil } from '../helpers/wait.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

const upstream = (answer: (exchange: RawExchange) => void, options: { early?: boolean; timeoutMs?: number; idleMs?: number } = {}) =>
  rawAdapter(answer, cleanup, options);

async function streamText(adapter: OpenAIAdapter): Promise<string> {
  let text = '';
  for await (const event of eventsOf(adapter.stream(ask))) if (event.type === 'delta') text += event.content;
  return text;
}

const sse = (body: string) =>
  Buffer.concat([
    Buffer.from(
      httpHead('200 OK', [
        ['content-type', 'text/event-stream'],
        ['transfer-encoding', 'chunked'],
      ]),
    ),
    chunked(body),
    Buffer.from('0\r\n\r\n'),
  ]);
const json = (status: string, body: string, extra: [string, string][] = []) =>
  httpHead(status, [['content-type', 'application/json'], ['content-length', String(Buffer.byteLength(body))], ...extra]) + body;

describe('informational answers before the real one', () => {
  it('reads the answer after a 103 Early Hints, streamed and whole', async () => {
    const { adapter } = await upstream(({ socket, head }) => {
      socket.write(httpHead('103 Early Hints', [['link', '</x>; rel=preload']]));
      if (head.includes('text/event-stream')) socket.write(sse(sseAnswer('early ', 'hints')));
      else socket.write(json('200 OK', completionJson('whole')));
    });
    expect(await streamText(adapter)).toBe('early hints');
    expect((await adapter.complete(ask)).choices[0]?.message.content).toBe('whole');
  });

  it('fails an unsolicited 100 Continue as a retryable unavailable upstream, as undici did before', async () => {
    const { adapter } = await upstream(({ socket }) => {
      socket.write(httpHead('100 Continue', []));
      socket.write(json('200 OK', completionJson('never read')));
    });
    expect((await failure(adapter.complete(ask))).code).toBe('provider_unavailable');
    expect((await failure(streamText(adapter))).code).toBe('provider_unavailable');
  });
});

describe('silence and trickles', () => {
  it('times out a head followed by silence within timeoutMs, streamed and whole, and closes the connection', async () => {
    const { adapter, up } = await upstream(
      ({ socket, head }) => {
        if (head.includes('text/event-stream'))
          socket.write(
            httpHead('200 OK', [
              ['content-type', 'text/event-stream'],
              ['transfer-encoding', 'chunked'],
            ]),
          );
        else
          socket.write(
            httpHead('200 OK', [
              ['content-type', 'application/json'],
              ['content-length', '100'],
            ]),
          );
      },
      { timeoutMs: 150, idleMs: 60_000 },
    );
    expect((await failure(adapter.complete(ask))).code).toBe('provider_timeout');
    expect((await failure(streamText(adapter))).code).toBe('provider_timeout');
    await waitUntil(() => up.closedSockets() === 2, 3000);
  });

  it('times out a stream that trickles bytes forever without completing an event', async () => {
    const { adapter, up } = await upstream(
      ({ socket }) => {
        socket.write(
          httpHead('200 OK', [
            ['content-type', 'text/event-stream'],
            ['transfer-encoding', 'chunked'],
          ]) + chunked('data: {"x":"'),
        );
        const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write(chunked('x'))), 5);
        socket.on('close', () => clearInterval(timer));
      },
      { timeoutMs: 150, idleMs: 150 },
    );
    expect((await failure(streamText(adapter))).code).toBe('provider_timeout');
    await waitUntil(() => up.closedSockets() === 1, 3000);
  });

  it('reads answers that arrive one byte per write, multi-byte characters split, streamed and whole', async () => {
    const { adapter } = await upstream(({ socket, head }) => {
      const bytes = head.includes('text/event-stream') ? sse(sseAnswer('€ ', '🙂')) : Buffer.from(json('200 OK', completionJson('€ 🙂')));
      let at = 0;
      const next = () => {
        if (at >= bytes.length || socket.destroyed) return;
        socket.write(bytes.subarray(at, at + 1), () => setImmediate(next));
        at++;
      };
      next();
    });
    expect(await streamText(adapter)).toBe('€ 🙂');
    expect((await adapter.complete(ask)).choices[0]?.message.content).toBe('€ 🙂');
  });
});

describe('bodies that lie about their length or framing', () => {
  it('fails a body shorter than its Content-Length (then the connection closes) as retryable, streamed and whole', async () => {
    const { adapter } = await upstream(({ socket, head }) => {
      const body = head.includes('text/event-stream') ? sseAnswer('cut') : completionJson('cut');
      socket.end(httpHead('200 OK', [['content-length', String(body.length + 50)]]) + body.slice(0, body.length - 20));
    });
    expect((await failure(adapter.complete(ask))).code).toBe('provider_unavailable');
    expect((await failure(streamText(adapter))).code).toBe('provider_unavailable');
  });

  it('reads no further than a Content-Length shorter than the body: the JSON is malformed, the stream has no end', async () => {
    const { adapter } = await upstream(({ socket, head }) => {
      const body = head.includes('text/event-stream') ? sseAnswer('a', 'b') : completionJson('long');
      socket.write(httpHead('200 OK', [['content-length', String(body.length - 30)]]) + body);
    });
    expect((await failure(adapter.complete(ask))).code).toBe('stream_interrupted');
    expect((await failure(streamText(adapter))).code).toBe('stream_interrupted');
  });

  it('fails a chunked body with a chunk size that is not hex as a retryable unavailable upstream', async () => {
    const { adapter } = await upstream(({ socket, head }) => {
      const body = head.includes('text/event-stream') ? sseAnswer('x') : completionJson('x');
      socket.write(`${httpHead('200 OK', [['transfer-encoding', 'chunked']])}zz\r\n${body}\r\n0\r\n\r\n`);
    });
    expect((await failure(adapter.complete(ask))).code).toBe('provider_unavailable');
    expect((await failure(streamText(adapter))).code).toBe('provider_unavailable');
  });

  it('replaces invalid UTF-8 bytes with U+FFFD instead of failing, streamed and whole', async () => {
    const bad = Buffer.from([0xff, 0xfe, 0xc3]);
    const { adapter } = await upstream(({ socket, head }) => {
      if (head.includes('text/event-stream')) {
        const [before, after] = sseChunk('@').split('@') as [string, string];
        const body = Buffer.concat([
          Buffer.from(before),
          bad,
          Buffer.from(after),
          Buffer.from(`${sseChunk(null, 'stop')}data: [DONE]\n\n`),
        ]);
        socket.write(Buffer.concat([Buffer.from(httpHead('200 OK', [['content-length', String(body.length)]])), body]));
        return;
      }
      const [before, after] = completionJson('@').split('@') as [string, string];
      const body = Buffer.concat([Buffer.from(before), bad, Buffer.from(after)]);
      socket.write(Buffer.concat([Buffer.from(httpHead('200 OK', [['content-length', String(body.length)]])), body]));
    });
    expect(await streamText(adapter)).toBe('\ufffd\ufffd\ufffd');
    expect((await adapter.complete(ask)).choices[0]?.message.content).toBe('\ufffd\ufffd\ufffd');
  });
});

describe('resets mid-body', () => {
  it('fails a stream reset before and after its first token as retryable', async () => {
    let calls = 0;
    const { adapter } = await upstream(({ socket }) => {
      calls++;
      socket.write(httpHead('200 OK', [['transfer-encoding', 'chunked']]));
      if (calls === 2) socket.write(chunked(sseChunk('first')));
      setTimeout(() => socket.resetAndDestroy(), 30);
    });
    expect((await failure(streamText(adapter))).code).toBe('provider_unavailable');
    const stream = adapter.stream(ask);
    const first = await stream.next();
    expect(first.done ? '' : first.value.content).toBe('first');
    expect((await failure(stream.next())).code).toBe('provider_unavailable');
  });
});

describe('heads that never end or overflow', () => {
  it('times out an upstream that sends informational answers forever, streamed and whole', async () => {
    const { adapter, up } = await upstream(
      ({ socket }) => {
        const hint = httpHead('103 Early Hints', [['link', '</x>; rel=preload']]);
        const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write(hint)), 5);
        socket.on('close', () => clearInterval(timer));
      },
      { timeoutMs: 150 },
    );
    expect((await failure(adapter.complete(ask))).code).toBe('provider_timeout');
    expect((await failure(streamText(adapter))).code).toBe('provider_timeout');
    await waitUntil(() => up.closedSockets() === 2, 3000);
  });

  it('times out an error answer’s head followed by silence on the streamed path instead of waiting for its body', async () => {
    const { adapter } = await upstream(
      ({ socket }) =>
        socket.write(
          httpHead('429 Too Many Requests', [
            ['retry-after', '1'],
            ['content-length', '100'],
          ]),
        ),
      {
        timeoutMs: 150,
      },
    );
    expect((await failure(streamText(adapter))).code).toBe('provider_timeout');
    expect((await failure(adapter.complete(ask))).code).toBe('provider_timeout');
  });

  it('fails headers larger than undici allows as a retryable unavailable upstream, and serves the next call', async () => {
    let calls = 0;
    const { adapter } = await upstream(({ socket, head }) => {
      calls++;
      const body = head.includes('text/event-stream') ? sseAnswer('ok') : completionJson('ok');
      const huge: [string, string][] = calls <= 2 ? [['x-huge', 'h'.repeat(64 * 1024)]] : [];
      socket.write(httpHead('200 OK', [...huge, ['content-length', String(body.length)]]) + body);
    });
    expect((await failure(adapter.complete(ask))).code).toBe('provider_unavailable');
    expect((await failure(streamText(adapter))).code).toBe('provider_unavailable');
    expect(await streamText(adapter)).toBe('ok');
  });

  it('reads duplicate headers as one list: a doubled Retry-After still a rate limit, a doubled Content-Length a failure', async () => {
    const limited = JSON.stringify({ error: { message: 'slow down' } });
    const { adapter } = await upstream(({ socket, head }) => {
      if (head.includes('text/event-stream'))
        return void socket.write(
          httpHead('429 Too Many Requests', [
            ['retry-after', '3'],
            ['retry-after', '5'],
            ['content-length', String(limited.length)],
          ]) + limited,
        );
      const body = completionJson('ok');
      socket.write(
        httpHead('200 OK', [
          ['content-length', String(body.length)],
          ['content-length', String(body.length + 1)],
        ]) + body,
      );
    });
    // Both values reach the classifier joined ("3, 5"): the answer is still a rate limit.
    expect((await failure(streamText(adapter))).code).toBe('provider_rate_limited');
    expect((await failure(adapter.complete(ask))).code).toBe('provider_unavailable');
  });
});
