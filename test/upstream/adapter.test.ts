// The adapter against a raw HTTP server on 127.0.0.1 that answers what the mock upstream never does: malformed
// bodies, HTML error pages, error events inside a stream, event streams split at awkward places.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenAIAdapter, type OpenAIAdapter } from '../../src/upstream/adapter.ts';
import { eventsOf } from '../helpers/answer.ts';
import { failure } from '../helpers/failure.ts';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function upstream(handler: Handler, adapterOptions: { apiKey?: string; headers?: Record<string, string>; path?: string } = {}) {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  const port = (server.address() as AddressInfo).port;
  const adapter: OpenAIAdapter = createOpenAIAdapter({
    id: 'raw',
    baseURL: `http://127.0.0.1:${port}${adapterOptions.path ?? '/v1'}`,
    apiKey: adapterOptions.apiKey,
    headers: adapterOptions.headers,
    model: 'upstream-model',
    timeoutMs: 2000,
    streamIdleTimeoutMs: 2000,
  });
  cleanup.push(async () => adapter.close?.());
  return adapter;
}

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };
const completion = (content: string) => ({
  id: 'c1',
  object: 'chat.completion',
  created: 1,
  model: 'upstream-model',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});
const chunk = (content: string | null, finish: string | null = null) =>
  JSON.stringify({
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
  });

async function events(adapter: OpenAIAdapter) {
  const seen: unknown[] = [];
  for await (const event of eventsOf(adapter.stream(ask)))
    seen.push(event.type === 'delta' ? event.content : { end: event.finishReason, usage: event.usage });
  return seen;
}

describe('the OpenAI-compatible adapter on the wire', () => {
  it('posts the request with the upstream model, the key, extra headers and the base URL query', async () => {
    let seen: { url?: string; headers?: IncomingMessage['headers']; body?: unknown } = {};
    const adapter = await upstream(
      (req, body, res) => {
        seen = { url: req.url, headers: req.headers, body: JSON.parse(body) };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion('hello')));
      },
      { apiKey: 'sk-test', headers: { 'api-key': 'azure-style' }, path: '/openai/deployments/d1?api-version=2024-10-21' },
    );
    const result = await adapter.complete({ ...ask, temperature: 0.2 });
    expect(result.choices[0]?.message.content).toBe('hello');
    expect(seen.url).toBe('/openai/deployments/d1/chat/completions?api-version=2024-10-21');
    expect(seen.headers).toMatchObject({ authorization: 'Bearer sk-test', 'api-key': 'azure-style', 'content-type': 'application/json' });
    expect(seen.body).toEqual({ messages: ask.messages, temperature: 0.2, model: 'upstream-model', stream: false });
  });

  it('lets a configured header replace its own, whatever its case', async () => {
    let authorization: string | string[] | undefined;
    const adapter = await upstream(
      (req, _body, res) => {
        authorization = req.headersDistinct.authorization;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion('ok')));
      },
      { apiKey: 'sk-ours', headers: { Authorization: 'Bearer theirs' } },
    );
    await adapter.complete(ask);
    expect(authorization).toEqual(['Bearer theirs']);
  });

  it('keeps the error message short however long the error body', async () => {
    const adapter = await upstream((_req, _body, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('x'.repeat(1024 * 1024));
    });
    const err = await failure(adapter.complete(ask));
    expect(err).toMatchObject({ code: 'provider_unavailable' });
    expect(err.message.length).toBeLessThan(600);
  });

  it('sends no Authorization header without a key', async () => {
    let authorization: string | undefined = 'unset';
    const adapter = await upstream((req, _body, res) => {
      authorization = req.headers.authorization;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion('ok')));
    });
    await adapter.complete(ask);
    expect(authorization).toBeUndefined();
  });

  it('reads the message and code of a JSON error body', async () => {
    const adapter = await upstream((_req, _body, res) => {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: 'too long', code: 'context_length_exceeded' } }));
    });
    expect(await failure(adapter.complete(ask))).toMatchObject({
      code: 'context_length_exceeded',
      message: 'raw: 400 too long',
      retryable: false,
    });
  });

  it('treats an HTML error page as a retryable upstream failure with its text as the message', async () => {
    const adapter = await upstream((_req, _body, res) => {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>');
    });
    expect(await failure(adapter.complete(ask))).toMatchObject({
      code: 'provider_unavailable',
      retryable: true,
      message: 'raw: 502 <html>Bad Gateway</html>',
    });
  });

  it('does not follow a redirect: a final error that says where baseURL should point', async () => {
    const adapter = await upstream((_req, _body, res) => {
      res.writeHead(308, { location: 'https://elsewhere.example/v1/chat/completions' }).end();
    });
    expect(await failure(adapter.complete(ask))).toMatchObject({
      code: 'provider_bad_request',
      retryable: false,
      message: 'raw: 308 redirected to https://elsewhere.example/v1/chat/completions: set baseURL to it',
    });
  });

  it('turns a 200 with a malformed or choice-less body into a retryable stream_interrupted', async () => {
    const bodies = ['{"choices": [', '{"id": "x"}', 'null'];
    const adapter = await upstream((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(bodies.shift());
    });
    for (let i = 0; i < 3; i++) expect(await failure(adapter.complete(ask))).toMatchObject({ code: 'stream_interrupted', retryable: true });
  });

  it('parses an event stream split anywhere, with CRLF line ends, comments and keep-alives', async () => {
    const wire = `: keep-alive\r\n\r\ndata: ${chunk('Hel')}\r\n\r\ndata: ${chunk('lo, wörld')}\n\n: ping\n\ndata: ${chunk(null, 'stop')}\n\ndata: {"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\ndata: [DONE]\n\n`;
    const bytes = Buffer.from(wire);
    let request: unknown;
    const adapter = await upstream((_req, body, res) => {
      request = JSON.parse(body);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // One byte at a time splits lines, CRLF pairs and the two bytes of "ö".
      let i = 0;
      const next = () => (i < bytes.length ? res.write(bytes.subarray(i, ++i), next) : res.end());
      next();
    });
    expect(await events(adapter)).toEqual([
      'Hel',
      'lo, wörld',
      '',
      { end: 'stop', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } },
    ]);
    expect(request).toMatchObject({ model: 'upstream-model', stream: true, stream_options: { include_usage: true } });
  });

  it('turns an error event inside a stream into stream_interrupted, after the deltas before it', async () => {
    const adapter = await upstream((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${chunk('partial')}\n\ndata: {"error":{"message":"overloaded"}}\n\n`);
    });
    const seen: string[] = [];
    const err = await failure(
      (async () => {
        for await (const event of eventsOf(adapter.stream(ask))) if (event.type === 'delta') seen.push(event.content);
      })(),
    );
    expect(err).toMatchObject({ code: 'stream_interrupted', retryable: true, message: 'raw: stream failed: overloaded' });
    expect(seen).toEqual(['partial']);
  });

  it('treats an SSE event named error as a broken stream, with its message', async () => {
    const adapter = await upstream((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${chunk('partial')}\n\nevent: error\ndata: {"message":"backend restarted"}\n\n`);
    });
    expect(await failure(events(adapter))).toMatchObject({ code: 'stream_interrupted', message: 'raw: stream failed: backend restarted' });
  });

  it('turns a malformed event into stream_interrupted, and a stream without [DONE] or finish reason too', async () => {
    const wires = [`data: ${chunk('a')}\n\ndata: {not json\n\n`, `data: ${chunk('a')}\n\n`];
    const adapter = await upstream((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' }).end(wires.shift());
    });
    expect(await failure(events(adapter))).toMatchObject({ code: 'stream_interrupted' });
    expect(await failure(events(adapter))).toMatchObject({ code: 'stream_interrupted' });
  });
});
