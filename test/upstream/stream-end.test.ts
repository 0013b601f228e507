// How the adapter ends a stream at its end marker: the connection goes back to the pool (the rest of the body is
// read, not destroyed), an upstream that keeps the response open after [DONE] does not hold the consumer, and
// the idle timer (one timer, re-armed) neither fires for a slow consumer nor misses a silent upstream.

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenAIAdapter } from '../../src/upstream/adapter.ts';
import { SseParser } from '../../src/upstream/sse-reader.ts';
import { eventsOf } from '../helpers/answer.ts';
import { failure } from '../helpers/failure.ts';
import { waitUntil } from '../helpers/wait.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const chunk = (content: string | null, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
  })}\n\n`;

/** An upstream that streams with `answer`; counts the connections it accepted and the responses that closed. */
async function upstream(answer: (res: ServerResponse) => void, idleMs = 2000) {
  let connections = 0;
  let closedSockets = 0;
  let closedResponses = 0;
  const server = createServer((req, res) => {
    req.resume();
    res.on('close', () => closedResponses++);
    req.on('end', () => answer(res));
  });
  server.on('connection', (socket) => {
    connections++;
    socket.on('close', () => closedSockets++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  const adapter = createOpenAIAdapter({
    id: 'raw',
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    model: 'upstream-model',
    timeoutMs: 2000,
    streamIdleTimeoutMs: idleMs,
  });
  cleanup.push(async () => adapter.close?.());
  return { adapter, connections: () => connections, closedSockets: () => closedSockets, closedResponses: () => closedResponses };
}

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

async function contents(stream: ReturnType<ReturnType<typeof createOpenAIAdapter>['stream']>) {
  const seen: unknown[] = [];
  for await (const event of eventsOf(stream)) seen.push(event.type === 'delta' ? event.content : event.finishReason);
  return seen;
}

describe('the end of a stream', () => {
  it('keeps the connection after [DONE] even when the response ends only after it', async () => {
    const up = await upstream((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('Hi') + chunk(null, 'stop'));
      res.write('data: [DONE]\n\n');
      // The end of the body comes in a later packet than [DONE]: a destroyed body would lose the connection.
      setTimeout(() => res.end(), 20);
    });
    expect(await contents(up.adapter.stream(ask))).toEqual(['Hi', '', 'stop']);
    await waitUntil(() => up.closedResponses() === 1);
    // The response ended normally and its connection stayed open for the next request (a destroyed body would
    // have closed it, which the server sees together with the response's close).
    expect(up.closedSockets()).toBe(0);
    expect(await contents(up.adapter.stream(ask))).toEqual(['Hi', '', 'stop']);
    expect(up.closedSockets()).toBe(0);
  });

  it('ends the stream at [DONE] without waiting for an upstream that keeps the response open, then cuts it', async () => {
    let closed: () => void = () => {};
    const responseClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const up = await upstream((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.on('close', closed);
      res.write(`${chunk('Hi')}${chunk(null, 'stop')}data: [DONE]\n\n`);
      // Never ended: only the adapter's idle time after [DONE] closes it (bounded by the test timeout).
    }, 300);
    expect(await contents(up.adapter.stream(ask))).toEqual(['Hi', '', 'stop']);
    await responseClosed;
    expect(up.closedResponses()).toBe(1);
  });

  it('does not time out while the consumer holds a chunk longer than the idle time, and does after a silent upstream', async () => {
    let resume: () => void = () => {};
    const up = await upstream((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('one'));
      resume = () => res.write(`${chunk('two')}${chunk(null, 'stop')}data: [DONE]\n\n`);
    }, 150);
    const stream = up.adapter.stream(ask);
    const first = await stream.next();
    expect(first.done ? undefined : first.value.content).toBe('one');
    // The consumer is busy for three idle times; the timer is paused meanwhile, so nothing fires.
    await new Promise((resolve) => setTimeout(resolve, 450));
    resume();
    const rest = await contents(stream);
    expect(rest).toEqual(['two', '', 'stop']);

    const silent = await upstream((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('one'));
    }, 150);
    const error = await failure(contents(silent.adapter.stream(ask)));
    expect(error.code).toBe('provider_timeout');
  });

  it('hands each chunk on with its JSON text exactly as the upstream sent it', async () => {
    const text =
      '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","x":{"model":"n"},"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}';
    const up = await upstream((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${text}\n\n${chunk(null, 'stop')}data: [DONE]\n\n`);
    });
    const first = await up.adapter.stream(ask).next();
    expect(first.done ? undefined : first.value.raw).toBe(text);
  });
});

describe('the SSE parser', () => {
  it('returns the events each piece completes, whatever the split, and joins data lines', () => {
    const stream = 'event: x\r\ndata: a\r\ndata: b\r\n\r\n: comment\n\ndata: {"c":1}\n\ndata';
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.feed(stream.slice(0, cut)), ...parser.feed(stream.slice(cut))];
      expect(events).toEqual([
        { event: 'x', data: 'a\nb' },
        { event: undefined, data: '{"c":1}' },
      ]);
    }
  });

  it('refuses an event longer than its bound', () => {
    const parser = new SseParser(10);
    expect(() => parser.feed('data: 0123456789\n')).toThrow(/longer than 10/);
  });
});
