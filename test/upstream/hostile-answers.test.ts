// Error answers and endings of the upstream transport (src/upstream/stream-body.ts, whole-body.ts, wire.ts) from a
// hostile upstream on raw sockets, through the real adapter: error answers cut short or never ending (their
// status and Retry-After must survive), a stream that goes on after [DONE], an upstream that answers before
// reading the request, and aborts before the connection and in numbers on one long-lived signal.

import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { AttemptOptions, OpenAIAdapter } from '../../src/upstream/adapter.ts';
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

async function streamText(adapter: OpenAIAdapter, request = ask, options: AttemptOptions = {}): Promise<string> {
  let text = '';
  for await (const event of eventsOf(adapter.stream(request, options))) if (event.type === 'delta') text += event.content;
  return text;
}

const json = (status: string, body: string) => httpHead(status, [['content-length', String(Buffer.byteLength(body))]]) + body;
const rateLimited = JSON.stringify({ error: { message: 'slow down', code: 'rate_limit_exceeded' } });

describe('error answers', () => {
  it('keeps a 429’s status and Retry-After when its body is cut short by the connection closing, streamed and whole', async () => {
    const { adapter } = await upstream(({ socket }) => {
      // Declares more than it sends, then closes: undici fails the body, but the status and headers are in.
      socket.end(
        httpHead('429 Too Many Requests', [
          ['retry-after', '7'],
          ['content-length', String(rateLimited.length + 100)],
        ]) + rateLimited,
      );
    });
    const whole = await failure(adapter.complete(ask));
    expect({ code: whole.code, retryAfterMs: whole.retryAfterMs }).toEqual({ code: 'provider_rate_limited', retryAfterMs: 7000 });
    expect(whole.message).toContain('slow down');
    const streamed = await failure(streamText(adapter));
    expect({ code: streamed.code, retryAfterMs: streamed.retryAfterMs }).toEqual({ code: 'provider_rate_limited', retryAfterMs: 7000 });
  });

  it('keeps a 429’s Retry-After when its body never ends, streamed and whole, and cuts that connection', async () => {
    const { adapter, up } = await upstream(({ socket }) => {
      socket.write(
        httpHead('429 Too Many Requests', [
          ['retry-after', '2'],
          ['transfer-encoding', 'chunked'],
        ]),
      );
      socket.write(chunked(rateLimited));
      const block = chunked(' '.repeat(16 * 1024));
      const pump = () => {
        for (let i = 0; i < 1000 && !socket.destroyed; i++) if (!socket.write(block)) return void socket.once('drain', pump);
      };
      pump();
    });
    const whole = await failure(adapter.complete(ask));
    expect({ code: whole.code, retryAfterMs: whole.retryAfterMs }).toEqual({ code: 'provider_rate_limited', retryAfterMs: 2000 });
    const streamed = await failure(streamText(adapter));
    expect({ code: streamed.code, retryAfterMs: streamed.retryAfterMs }).toEqual({ code: 'provider_rate_limited', retryAfterMs: 2000 });
    await waitUntil(() => up.closedSockets() === up.connections(), 3000);
  });

  it('keeps the status of an answer sent before the request was read, then the connection closed, streamed and whole', async () => {
    const refusal = JSON.stringify({ error: { message: 'request too large', code: 'too_large' } });
    const { adapter } = await upstream(
      ({ socket }) =>
        socket.end(
          httpHead('413 Payload Too Large', [
            ['connection', 'close'],
            ['content-length', String(refusal.length)],
          ]) + refusal,
        ),
      { early: true },
    );
    const big = { messages: [{ role: 'user' as const, content: 'x'.repeat(4 * 1024 * 1024) }] };
    const whole = await failure(adapter.complete(big));
    expect(whole.code).toBe('provider_bad_request');
    expect(whole.status).toBe(413);
    const streamed = await failure(streamText(adapter, big));
    expect({ code: streamed.code, status: streamed.status }).toEqual({ code: 'provider_bad_request', status: 413 });
  });
});

describe('a stream that goes on after [DONE]', () => {
  it('ends the stream at [DONE], cuts the connection after streamIdleTimeoutMs, and serves the next call', async () => {
    const { adapter, up } = await upstream(
      ({ socket }) => {
        socket.write(httpHead('200 OK', [['transfer-encoding', 'chunked']]));
        socket.write(chunked(sseAnswer('done')));
        // Never ends the body: the connection cannot go back to the pool.
      },
      { idleMs: 100 },
    );
    for (let i = 0; i < 5; i++) expect(await streamText(adapter)).toBe('done');
    await waitUntil(() => up.closedSockets() === 5, 3000);
    expect(up.connections()).toBe(5);
  });
});

describe('aborts', () => {
  it('never sends a call whose signal fires between dispatch and connect, streamed and whole', async () => {
    const { adapter, up } = await upstream(({ socket, head }) =>
      socket.write(
        head.includes('text/event-stream')
          ? httpHead('200 OK', [['content-length', String(sseAnswer('ok').length)]]) + sseAnswer('ok')
          : `${httpHead('200 OK', [['content-length', String(completionJson('ok').length)]])}${completionJson('ok')}`,
      ),
    );
    const whole = new AbortController();
    const call = adapter.complete(ask, { signal: whole.signal });
    whole.abort(new Error('gone'));
    expect((await failure(call)).code).toBe('aborted');
    const streamed = new AbortController();
    const stream = adapter.stream(ask, { signal: streamed.signal });
    const first = stream.next();
    streamed.abort(new Error('gone'));
    expect((await failure(first)).code).toBe('aborted');
    expect(await streamText(adapter)).toBe('ok');
    expect(up.requests()).toBe(1);
  });

  it('opens no connection for calls aborted while they wait for one', async () => {
    const { adapter, up } = await upstream(({ socket, head }) =>
      socket.write(json('200 OK', head.includes('text/event-stream') ? sseAnswer('ok') : completionJson('ok'))),
    );
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const whole = new AbortController();
      calls.push(adapter.complete(ask, { signal: whole.signal }).catch(() => {}));
      whole.abort(new Error('gone'));
      const streamed = new AbortController();
      calls.push(streamText(adapter, ask, { signal: streamed.signal }).catch(() => {}));
      // The stream is sent on its first read: abort it right after that.
      queueMicrotask(() => streamed.abort(new Error('gone')));
    }
    await Promise.all(calls);
    // Served after every aborted call was dispatched: their connections, had they been opened, came first.
    expect(await streamText(adapter)).toBe('ok');
    expect({ connections: up.connections(), requests: up.requests() }).toEqual({ connections: 1, requests: 1 });
  });

  it('keeps the pool’s warm connections when calls queued behind a full pool are aborted', async () => {
    const held: (() => void)[] = [];
    const { adapter, up } = await upstream(({ socket, body }) => {
      const answer = json('200 OK', completionJson('ok'));
      if (body.includes('"hold"')) held.push(() => socket.write(answer));
      else socket.write(answer);
    });
    const hold = { messages: [{ role: 'user' as const, content: 'hold' }] };
    // The adapter's pool has 256 connections: all taken, the next calls wait in its queue.
    const busy = Array.from({ length: 256 }, () => adapter.complete(hold));
    await waitUntil(() => held.length === 256, 10_000);
    const queued = Array.from({ length: 40 }, () => {
      const caller = new AbortController();
      const call = adapter.complete(ask, { signal: caller.signal }).catch((e: unknown) => e);
      caller.abort(new Error('gone'));
      return call;
    });
    await Promise.all(queued);
    for (const answer of held) answer();
    await Promise.all(busy);
    // Every connection came back to the pool: a second round is served on the same 256.
    await Promise.all(Array.from({ length: 256 }, () => adapter.complete(ask)));
    expect({ connections: up.connections(), closed: up.closedSockets(), requests: up.requests() }).toEqual({
      connections: 256,
      closed: 0,
      requests: 512,
    });
  }, 30_000);

  it('leaves no listener on a long-lived signal after many finished, stopped, refused and aborted calls', async () => {
    const { adapter } = await upstream(({ socket, head, body }) => {
      if (body.includes('"hold"'))
        return void socket.write(httpHead('200 OK', [['transfer-encoding', 'chunked']]) + chunked(sseChunk('held')));
      if (body.includes('"refuse"')) return void socket.write(json('429 Too Many Requests', rateLimited));
      socket.write(json('200 OK', head.includes('text/event-stream') ? sseAnswer('ok') : completionJson('ok')));
    });
    const say = (content: string) => ({ messages: [{ role: 'user' as const, content }] });
    const shared = new AbortController();
    // The caller's signal linked under each attempt, and the caller's controller used as the attempt's own.
    const ways = [{ signal: shared.signal }, { controller: shared, signal: shared.signal }];
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      for (const options of ways) {
        calls.push(adapter.complete(say('ok'), options));
        calls.push(adapter.complete(say('refuse'), options).catch(() => {}));
        calls.push(streamText(adapter, say('ok'), options));
        calls.push(streamText(adapter, say('refuse'), options).catch(() => {}));
        // The consumer stops after the first delta of a stream that goes on.
        const held = adapter.stream(say('hold'), options);
        calls.push(held.next().then(() => held.return?.()));
      }
      const early = new AbortController();
      calls.push(adapter.complete(ask, { signal: early.signal }).catch(() => {}));
      early.abort(new Error('early'));
    }
    await Promise.all(calls);
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });
});

describe('an answer whose connection fails after all of it arrived', () => {
  it('delivers what arrived before the failure to a reader that is behind, whatever its pace', async () => {
    let release: () => void = () => {};
    const { adapter, up } = await upstream(({ socket }) => {
      socket.write(httpHead('200 OK', [['transfer-encoding', 'chunked']]) + chunked(sseChunk('first ')));
      release = () => {
        // The rest and [DONE], then the connection closes without the chunked body's last chunk.
        socket.end(chunked(`${sseChunk('second')}${sseChunk(null, 'stop')}data: [DONE]\n\n`));
      };
    });
    const stream = adapter.stream(ask);
    const first = await stream.next();
    expect(first.done ? '' : first.value.content).toBe('first ');
    // The reader holds its delta until the answer's end and the connection's failure are both in.
    release();
    // Its socket closed on both sides: undici has seen the failure.
    await waitUntil(() => up.closedSockets() === 1, 3000);
    let rest = '';
    for (let i = 0; i < 10; i++) {
      const next = await stream.next();
      if (next.done) {
        expect(next.value.finishReason).toBe('stop');
        break;
      }
      rest += next.value.content;
    }
    expect(rest).toBe('second');
  });
});

describe('an answer the caller stopped', () => {
  it('hands out nothing that arrived unread once the caller aborted', async () => {
    let more: (sent: () => void) => void = () => {};
    const { adapter } = await upstream(({ socket }) => {
      socket.write(httpHead('200 OK', [['transfer-encoding', 'chunked']]) + chunked(sseChunk('first ')));
      more = (sent) => socket.write(chunked(sseChunk('unwanted')), () => sent());
    });
    const caller = new AbortController();
    const stream = adapter.stream(ask, { signal: caller.signal });
    const first = await stream.next();
    expect(first.done ? '' : first.value.content).toBe('first ');
    // The next delta goes out while the reader holds the first; a loopback read later it waits unread (were it
    // late, the test could only pass, never fail wrongly).
    await new Promise<void>((resolve) => more(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    caller.abort(new Error('caller left'));
    expect((await failure(stream.next())).code).toBe('aborted');
  });
});
