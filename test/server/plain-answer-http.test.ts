// A non-streamed chat answer goes out as the upstream's own text with the logical model and the route set on it:
// the openai SDK receives what it received when the parsed answer was serialized again, and answers the text
// cannot carry exactly (and hostile upstream bodies) are treated as before.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';

/** What the upstream answers next, as text. */
let answer = '';
let upstream: Server;
let gateway: Awaited<ReturnType<typeof startGateway>>;
let client: OpenAI;
const maxResponseBytes = 1024 * 1024;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(answer);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  gateway = await startGateway();
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'none', maxRetries: 0 });
});
afterAll(async () => {
  await gateway.shutdown(100);
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

/** A gateway over the upstream: each hostile case gets its own, so that one's failures do not trip the next. */
async function startGateway() {
  const runtime = createRuntime({
    providers: [
      {
        id: 'up',
        baseURL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`,
        models: { chat: 'up-model' },
        maxResponseBytes,
      },
    ],
    routing: { maxAttempts: 1, deadlineMs: 10_000 },
  });
  return startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [] });
}

const messages = [{ role: 'user' as const, content: 'hi' }];

const post = (url = gateway.url) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', messages }),
  });

/** What the SDK gets for `body`, and what serializing the parsed body with the model and route gives. */
async function viaSdk(body: string) {
  answer = body;
  const got = (await client.chat.completions.create({ model: 'chat', messages })) as unknown as Record<string, unknown>;
  const expected = { ...(JSON.parse(body) as object), model: 'chat', switchyard: got.switchyard };
  return { got, expected };
}

const completion = (fields: string) =>
  `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up-model",${fields}"choices":[{"index":0,"message":{"role":"assistant","content":"caf\\u00e9 ☕ \\ud83d\\ude00"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`;

describe('non-streamed answers as the upstream sent them', () => {
  const bodies = [
    ['unicode and escapes', completion('"note":"\\"q\\" \\\\ \\/ \\n\\t \\u2028 \\ud800",')],
    ['"model" nested in content', completion('"x":{"model":"inner","s":"\\"model\\":\\"no\\""},')],
    [
      'tool calls whose arguments name a model',
      '{"id":"c","object":"chat.completion","created":1,"model":"up-model","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"pick","arguments":"{\\"model\\":\\"gpt\\"}"}}]},"finish_reason":"tool_calls"}]}',
    ],
    [
      'logprobs',
      completion(
        '"logprobs_extra":{"content":[{"token":"caf","logprob":-1.0e-3,"bytes":[99,97,102],"top_logprobs":[{"token":"c","logprob":-2.5,"bytes":null}]}]},',
      ),
    ],
    ['extra upstream fields', completion('"system_fingerprint":"fp_x","service_tier":"default","future":{"kept":[true,null,1.5e300]},')],
    ['pretty printed', JSON.stringify(JSON.parse(completion('')), null, 2)],
  ] as const;
  for (const [what, body] of bodies) {
    it(`gives the SDK what serializing gave: ${what}`, async () => {
      const { got, expected } = await viaSdk(body);
      expect(got).toStrictEqual(expected);
      expect(got.model).toBe('chat');
      expect((got.switchyard as { deployments: string[] }).deployments).toEqual(['up/up-model']);
    });
  }

  it("sends the upstream's own text, as JSON with its length", async () => {
    answer = completion('');
    const res = await post();
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const text = await res.text();
    // The escapes as the upstream wrote them: serializing the parsed answer would have written the characters.
    expect(text.startsWith(answer.replace('"model":"up-model"', '"model":"chat"').slice(0, -1))).toBe(true);
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
  });

  it('serializes an answer without a model, the model added last before the route', async () => {
    const body =
      '{"id":"c","object":"chat.completion","created":1,"choices":[{"index":0,"message":{"role":"assistant","content":"caf\\u00e9"},"finish_reason":"stop"}]}';
    const { got, expected } = await viaSdk(body);
    expect(got).toStrictEqual(expected);
    answer = body;
    const text = await (await post()).text();
    expect(text).toContain('"content":"café"');
    expect(Object.keys(JSON.parse(text) as object).slice(-2)).toEqual(['model', 'switchyard']);
  });

  it("replaces an upstream's own switchyard field with the route, as before", async () => {
    const { got, expected } = await viaSdk(completion('"switchyard":{"forged":true},'));
    expect(got).toStrictEqual(expected);
    expect(got.switchyard).not.toHaveProperty('forged');
  });

  it('answers with the last of two top-level models replaced, as serializing the parse did', async () => {
    const { got, expected } = await viaSdk(`${completion('').slice(0, -1)},"model":"second"}`);
    expect(got).toStrictEqual(expected);
    expect(got.model).toBe('chat');
  });

  it('serializes a deeply nested answer as before', async () => {
    const { got, expected } = await viaSdk(completion(`"deep":${'['.repeat(200)}1${']'.repeat(200)},`));
    expect(got).toStrictEqual(expected);
  });
});

describe('hostile upstream answers, as before', () => {
  const hostile = async (body: string) => {
    answer = body;
    const own = await startGateway();
    try {
      const res = await post(own.url);
      const error = ((await res.json()) as { error?: { code?: string } }).error;
      answer = completion('');
      // Still serving.
      const next = await post(own.url);
      return { status: res.status, code: error?.code, next: next.status };
    } finally {
      await own.shutdown(100);
    }
  };

  for (const body of ['[1,2]', '"text"', 'null', '42', '{"model":"m"}', '{"choices":', 'not json']) {
    it(`answers a malformed upstream body ${body} with a typed error`, async () => {
      expect(await hostile(body)).toEqual({ status: 502, code: 'stream_interrupted', next: 200 });
    });
  }

  it('refuses an answer larger than the limit', async () => {
    expect(await hostile(completion(`"pad":"${'x'.repeat(maxResponseBytes)}",`))).toEqual({
      status: 502,
      code: 'upstream_response_too_large',
      next: 200,
    });
  });

  it('answers a nesting too deep to serialize with an error, and stays up', async () => {
    const depth = 200_000;
    const result = await hostile(completion(`"deep":${'['.repeat(depth)}${']'.repeat(depth)},`));
    expect(result).toEqual({ status: 500, code: 'internal_error', next: 200 });
  });
});
