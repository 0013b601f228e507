// The chunks of one upstream read cross the gateway without a promise each (AnswerStream.poll): these upstreams
// send their whole stream in one write, so the client's chunks are the polled ones. What the gateway reads of
// each chunk (content, finish reason, usage, errors) and what it continues from on a cut must stay exact.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { readSse } from '../helpers/sse.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Seen = { messages: { role: string; content: string }[] };

/** An upstream that answers each request with `answer(body)`, written at once; keeps the bodies it received. */
async function upstream(answer: (body: Seen) => string) {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (piece: string) => {
      text += piece;
    });
    req.on('end', () => {
      const body = JSON.parse(text) as Seen;
      seen.push(body);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(answer(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, seen };
}

const head = '"id":"up-1","object":"chat.completion.chunk","created":7,"model":"up-model"';
/** A chunk's event with `delta` and `finish` written as raw JSON text, so escapes stay as the upstream wrote them. */
const event = (delta: string, finish = 'null', extra = '') =>
  `data: {${head},"choices":[{"index":0,"delta":${delta},"finish_reason":${finish}}]${extra}}\n\n`;
const role = event('{"role":"assistant","content":""}');
const text = (json: string) => event(`{"content":${json}}`);
const done = 'data: [DONE]\n\n';
const usage = '"usage":{"prompt_tokens":11,"completion_tokens":5,"total_tokens":16}';

/** A gateway over `urls`, tried in that order; `prefill` deployments can continue a stream. */
async function gateway(deployments: { url: string; prefill?: boolean }[]) {
  const runtime = createRuntime({
    providers: deployments.map((d, i) => ({
      id: `p${i}`,
      baseURL: d.url,
      models: { chat: 'up-model' },
      ...(d.prefill ? { continuation: 'prefill' as const } : {}),
    })),
    routing: { strategy: 'priority', maxAttempts: 3, deadlineMs: 10_000 },
    health: { minVolume: 100 },
  });
  const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [], inspector: false });
  cleanups.push(() => server.shutdown(100));
  const stream = async (extra: Record<string, unknown> = {}) => {
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Hi' }], stream: true, ...extra }),
    });
    const frames = res.status === 200 ? await readSse(res) : [];
    const chunks = frames.filter((f) => f !== '[DONE]').map((f) => JSON.parse(f) as ChatCompletionChunk & { error?: { code: string } });
    const content = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    return { status: res.status, frames, chunks, content };
  };
  return { runtime, stream };
}

describe('chunks polled through the gateway', () => {
  it('continues a stream cut after three chunks from exactly the content delivered, escapes decoded', async () => {
    // \u00e9 is é; \ud83d\ude00 is one emoji written as a surrogate pair; \" and \n are escaped in the JSON.
    const cut = await upstream(() => role + text('"H\\u00e9llo"') + text('" \\"w\\"\\n"') + text('" \\ud83d\\ude00"'));
    const rest = await upstream(() => text('" and more."') + event('{}', '"stop"') + done);
    const g = await gateway([{ url: cut.url }, { url: rest.url, prefill: true }]);
    const answer = await g.stream();
    const delivered = 'Héllo "w"\n 😀';
    expect(answer.content).toBe(`${delivered} and more.`);
    expect(rest.seen[0]?.messages.at(-1)).toMatchObject({ role: 'assistant', content: delivered });
    expect(answer.frames.at(-1)).toBe('[DONE]');
  });

  it('counts the usage an upstream sends on its last chunk, beside the finish reason', async () => {
    const up = await upstream(() => role + text('"Hello"') + event('{}', '"stop"', `,${usage}`) + done);
    const g = await gateway([{ url: up.url }]);
    const events = [];
    for await (const e of g.runtime.stream({ model: 'chat', messages: [{ role: 'user', content: 'Hi' }] })) events.push(e);
    const end = events.at(-1);
    expect(end?.type === 'end' ? [end.finishReason, end.usage?.total_tokens] : undefined).toEqual(['stop', 16]);
    const answer = await g.stream({ stream_options: { include_usage: true } });
    expect(answer.chunks.find((c) => c.usage)?.usage?.total_tokens).toBe(16);
  });

  it('does not take a "finish_reason" inside a content string for the end of the answer', async () => {
    const tricky = '"say \\"finish_reason\\":\\"stop\\" then"';
    const up = await upstream(() => role + text(tricky) + text('" go on"') + event('{}', '"length"') + done);
    const g = await gateway([{ url: up.url }]);
    const answer = await g.stream();
    expect(answer.content).toBe('say "finish_reason":"stop" then go on');
    const finishes = answer.chunks.map((c) => c.choices?.[0]?.finish_reason).filter((f) => f);
    expect(finishes).toEqual(['length']);
  });

  it('passes a chunk whose data spans several lines as one well-formed chunk', async () => {
    const multiLine = `data: {${head},\ndata: "choices":[{"index":0,"delta":{"content":"two lines"},"finish_reason":null}]}\n\n`;
    const up = await upstream(() => role + multiLine + text('"!"') + event('{}', '"stop"') + done);
    const g = await gateway([{ url: up.url }]);
    const answer = await g.stream();
    expect(answer.content).toBe('two lines!');
    for (const frame of answer.frames) expect(frame).not.toContain('\n');
  });

  it('fails over when the first upstream sends a 10 MB chunk, and still serves afterwards', async () => {
    const huge = await upstream(() => role + text(JSON.stringify('x'.repeat(10 * 1024 * 1024))) + event('{}', '"stop"') + done);
    const fine = await upstream(() => role + text('"fine"') + event('{}', '"stop"') + done);
    const g = await gateway([{ url: huge.url }, { url: fine.url }]);
    expect((await g.stream()).content).toBe('fine');
    const alone = await gateway([{ url: huge.url }]);
    const refused = await alone.stream();
    expect(refused.status).toBeGreaterThanOrEqual(500);
    expect((await g.stream()).content).toBe('fine');
  });

  it('continues after malformed JSON mid-stream from what was delivered, or ends with a typed error', async () => {
    const broken = await upstream(() => `${role + text('"Hello"')}data: {"id": broken\n\n${text('" lost"')}${done}`);
    const rest = await upstream(() => text('" world."') + event('{}', '"stop"') + done);
    const g = await gateway([{ url: broken.url }, { url: rest.url, prefill: true }]);
    const answer = await g.stream();
    expect(answer.content).toBe('Hello world.');
    expect(rest.seen[0]?.messages.at(-1)?.content).toBe('Hello');
    const alone = await gateway([{ url: broken.url }]);
    const failed = await alone.stream();
    expect(failed.content).toBe('Hello');
    expect(failed.chunks.at(-1)?.error?.code).toBe('stream_interrupted');
  });
  it('gives a stream continued by another deployment, whose chunks share another head, the first id throughout', async () => {
    const otherHead = '"id":"up-2","object":"chat.completion.chunk","created":99,"model":"other-model","system_fingerprint":"fp2"';
    const other = (delta: string, finish = 'null') =>
      `data: {${otherHead},"choices":[{"index":0,"delta":${delta},"finish_reason":${finish}}]}\n\n`;
    const cut = await upstream(() => role + text('"Hello"') + text('" there"'));
    const rest = await upstream(() => other('{"content":" and"}') + other('{"content":" more."}') + other('{}', '"stop"') + done);
    const g = await gateway([{ url: cut.url }, { url: rest.url, prefill: true }]);
    const answer = await g.stream();
    expect(answer.content).toBe('Hello there and more.');
    expect(answer.chunks.length).toBeGreaterThan(4);
    for (const chunk of answer.chunks) expect([chunk.id, chunk.created, chunk.model]).toEqual(['up-1', 7, 'chat']);
    expect(answer.frames.join('')).not.toContain('up-2');
  });

  it('treats a chunk that repeats the head but whose rest is not JSON as malformed, as it did without heads', async () => {
    const bad = [`data: {${head},}\n\n`, `data: {${head},"choices":[}\n\n`, `data: {${head},"choices":[]}}\n\n`];
    for (const broken of bad) {
      const up = await upstream(() => role + text('"Hello"') + broken + text('" lost"') + event('{}', '"stop"') + done);
      const g = await gateway([{ url: up.url }]);
      const answer = await g.stream();
      expect(answer.content).toBe('Hello');
      expect(answer.chunks.at(-1)?.error?.code).toBe('stream_interrupted');
    }
  });
});
