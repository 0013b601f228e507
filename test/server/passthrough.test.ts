// Faithful pass-through of chat completions: what the upstream sent reaches the client whole (logprobs,
// system_fingerprint, service_tier, fields nobody knows yet), with only the stream's identity, the logical
// model and Switchyard's own `switchyard` field set on it.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { readSse } from '../helpers/sse.ts';

let gateway: Gateway | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  for (const cleanup of cleanups.splice(0)) await cleanup();
});
const messages = [{ role: 'user' as const, content: 'What does a gateway do?' }];

async function chunksOf(g: Gateway, body: Record<string, unknown>): Promise<ChatCompletionChunk[]> {
  const stream = await g.client.chat.completions.create({ model: 'chat', messages, stream: true, ...body });
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('chat completions pass through what the upstream sent', () => {
  it('streams every token of logprobs: the same tokens as the whole completion carries', async () => {
    gateway = await startGateway();
    const whole = await gateway.client.chat.completions.create({ model: 'chat', messages, logprobs: true, top_logprobs: 2 });
    const expected = whole.choices[0]?.logprobs?.content?.map((t) => t.token) ?? [];
    expect(expected.length).toBeGreaterThan(3);
    const chunks = await chunksOf(gateway, { logprobs: true, top_logprobs: 2 });
    const streamed = chunks.flatMap((c) => c.choices[0]?.logprobs?.content ?? []);
    expect(streamed.map((t) => t.token)).toEqual(expected);
    expect(streamed.every((t) => t.top_logprobs.length === 2)).toBe(true);
  });

  it('keeps system_fingerprint and service_tier on every chunk and on the whole completion', async () => {
    gateway = await startGateway();
    const whole = await gateway.client.chat.completions.create({ model: 'chat', messages });
    expect(whole.system_fingerprint).toBe('fp_switchyard_mock');
    expect(whole.service_tier).toBe('default');
    const chunks = await chunksOf(gateway, { stream_options: { include_usage: true } });
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) {
      expect(chunk.system_fingerprint).toBe('fp_switchyard_mock');
      expect(chunk.service_tier).toBe('default');
    }
  });

  it('answers with the logical model the client sent, streamed and not', async () => {
    gateway = await startGateway();
    const whole = await gateway.client.chat.completions.create({ model: 'chat', messages });
    expect(whole.model).toBe('chat');
    const chunks = await chunksOf(gateway, { stream_options: { include_usage: true } });
    expect(new Set(chunks.map((c) => c.model))).toEqual(new Set(['chat']));
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('sends one role chunk and one finish chunk, the finish chunk with the route, then usage', async () => {
    gateway = await startGateway();
    const res = await gateway.post('/v1/chat/completions', {
      model: 'chat',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const frames = await readSse(res);
    expect(frames.at(-1)).toBe('[DONE]');
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f) as ChatCompletionChunk & { switchyard?: { deployments: string[] } });
    expect(chunks.filter((c) => c.choices[0]?.delta?.role !== undefined)).toHaveLength(1);
    const finishes = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finishes).toHaveLength(1);
    expect(finishes[0]?.switchyard?.deployments).toEqual(['p0/mock-model']);
    expect(chunks.at(-1)?.usage?.total_tokens).toBeGreaterThan(0);
    expect(chunks.at(-1)?.system_fingerprint).toBe('fp_switchyard_mock');
  });

  it('keeps the logprobs of a stream continued on another deployment by prefill', async () => {
    // Both mocks answer the same words: the continuation's pieces pass unchanged and keep their logprobs.
    const cut = await startMockUpstream({ faults: { mode: 'cut', afterChunks: 3 } });
    const whole = await startMockUpstream({});
    cleanups.push(
      () => cut.close(),
      () => whole.close(),
    );
    const runtime = createRuntime({
      providers: [cut, whole].map((m, i) => ({
        id: `p${i}`,
        baseURL: m.url,
        continuation: 'prefill' as const,
        models: { chat: 'mock-model' },
      })),
      routing: { maxAttempts: 3, deadlineMs: 10_000 },
    });
    const url = await serve(runtime);
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages, stream: true, logprobs: true }),
    });
    const chunks = (await readSse(res))
      .slice(0, -1)
      .map((f) => JSON.parse(f) as ChatCompletionChunk & { switchyard?: { continued: boolean } });
    expect(chunks.at(-1)?.switchyard?.continued).toBe(true);
    const content = chunks.filter((c) => (c.choices[0]?.delta?.content ?? '') !== '');
    expect(content.length).toBeGreaterThan(3);
    for (const c of content) expect(c.choices[0]?.logprobs?.content?.length).toBeGreaterThan(0);
  });

  it('passes on fields it does not know, in chunks and in the whole completion', async () => {
    const upstream = await futureUpstream();
    const runtime = createRuntime({ providers: [{ id: 'future', baseURL: upstream, models: { chat: 'next-model' } }] });
    const url = await serve(runtime);
    const post = (stream: boolean) =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages, stream }),
      });
    const whole = (await (await post(false)).json()) as Record<string, unknown>;
    expect(whole.future_field).toEqual({ kept: true });
    expect(whole.model).toBe('chat');
    const chunks = (await readSse(await post(true))).slice(0, -1).map((f) => JSON.parse(f) as Record<string, unknown>);
    expect(chunks.length).toBe(3);
    for (const chunk of chunks) expect(chunk.future_field).toEqual({ kept: true });
  });
});

async function serve(runtime: Runtime): Promise<string> {
  const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [] });
  cleanups.push(() => server.shutdown(100));
  return server.url;
}

/** An upstream from the future: every body and chunk carries a field no SDK knows yet. */
async function futureUpstream(): Promise<string> {
  const extra = { future_field: { kept: true } };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => {
      raw += d.toString();
    });
    req.on('end', () => {
      const body = JSON.parse(raw) as { stream?: boolean };
      const head = { id: 'chatcmpl-future', created: 1, model: 'next-model', ...extra };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const message = { role: 'assistant', content: 'Hello there.' };
        res.end(JSON.stringify({ ...head, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: 'stop' }] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (delta: object, finish: string | null) =>
        res.write(
          `data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
        );
      send({ role: 'assistant', content: '' }, null);
      send({ content: 'Hello there.' }, null);
      send({}, 'stop');
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}
