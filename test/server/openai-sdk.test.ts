import { APIError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { readSse } from '../helpers/sse.ts';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});
const start = async (options: Parameters<typeof startGateway>[0] = {}) => {
  gateway = await startGateway(options);
  return gateway;
};
const messages = [{ role: 'user' as const, content: 'What does a gateway do?' }];

async function apiError(p: Promise<unknown>): Promise<APIError> {
  const result = await p.then(
    () => new Error('expected an error'),
    (e: unknown) => e,
  );
  if (!(result instanceof APIError)) throw result;
  return result;
}

describe('the openai SDK against Switchyard', () => {
  it('gets a completion, with headers naming the deployment and the attempts', async () => {
    const g = await start();
    const { data, response } = await g.client.chat.completions.create({ model: 'chat', messages }).withResponse();
    expect(data.choices[0]?.message.content).toMatch(/\.$/);
    expect(data.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-switchyard-deployment')).toBe('p0/mock-model');
    expect(response.headers.get('x-switchyard-attempts')).toBe('1');
  });

  it('streams deltas that assemble to the same text, with a usage chunk', async () => {
    const g = await start();
    const whole = (await g.client.chat.completions.create({ model: 'chat', messages })).choices[0]?.message.content;
    const stream = await g.client.chat.completions.create({
      model: 'chat',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(whole);
    expect(usage).toMatchObject({ completion_tokens: expect.any(Number) });
  });

  const tools = [
    {
      type: 'function' as const,
      function: {
        name: 'search',
        description: 'Search the docs',
        parameters: { type: 'object', properties: { query: { type: 'string' } } },
      },
    },
  ];

  it('passes tool calls through, and the tool result back for the final answer', async () => {
    const g = await start();
    const first = await g.client.chat.completions.create({ model: 'chat', messages, tools });
    const choice = first.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    const call = choice?.message.tool_calls?.[0];
    expect(call).toMatchObject({ type: 'function', function: { name: 'search' } });
    expect(JSON.parse(call?.type === 'function' ? call.function.arguments : '')).toMatchObject({ query: expect.any(String) });
    const second = await g.client.chat.completions.create({
      model: 'chat',
      tools,
      messages: [...messages, choice?.message as never, { role: 'tool', tool_call_id: call?.id ?? '', content: 'a gateway routes calls' }],
    });
    expect(second.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: expect.stringMatching(/\.$/) } });
  });

  it('streams tool calls: the SDK assembles the same call as without streaming', async () => {
    const g = await start();
    const whole = (await g.client.chat.completions.create({ model: 'chat', messages, tools })).choices[0]?.message.tool_calls?.[0];
    const stream = g.client.chat.completions.stream({ model: 'chat', messages, tools });
    let toolChunks = 0;
    for await (const chunk of stream) if (chunk.choices[0]?.delta?.tool_calls) toolChunks++;
    const final = await stream.finalChatCompletion();
    expect(toolChunks).toBeGreaterThan(1);
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(final.choices[0]?.message.tool_calls?.[0]).toEqual(whole);
  });

  it('ends a stream cut in the middle of a tool call with stream_interrupted, without continuing it elsewhere', async () => {
    const g = await start({ mocks: [{ faults: { mode: 'cut', afterChunks: 2 } }, {}], config: { routing: { maxAttempts: 3 } } });
    const stream = await g.client.chat.completions.create({ model: 'chat', messages, tools, stream: true });
    let pieces = 0;
    const err = await (async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.delta?.tool_calls) pieces++;
    })().then(
      () => new Error('expected the stream to fail'),
      (e: unknown) => e,
    );
    expect(pieces).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).code).toBe('stream_interrupted');
    expect(g.mocks[1]?.stats().requests).toBe(0);
  });

  it('lists the logical models', async () => {
    const g = await start();
    expect((await g.client.models.list()).data.map((m) => m.id)).toEqual(['chat']);
  });

  it.each([
    ['400 for an invalid request', {}, { model: 'chat', messages: [] }, 400, 'invalid_request'],
    ['404 for an unknown model', {}, { model: 'gpt-unknown', messages }, 404, 'model_not_found'],
    [
      '429 when every deployment rate-limits',
      { mocks: [{ faults: { mode: 'error' as const, status: 429 } }] },
      { model: 'chat', messages },
      429,
      'provider_rate_limited',
    ],
    [
      '502 when every deployment fails',
      { mocks: [{ faults: { mode: 'error' as const, status: 500 } }] },
      { model: 'chat', messages },
      502,
      'provider_unavailable',
    ],
    [
      '504 past the deadline',
      { mocks: [{ faults: { mode: 'hang' as const } }], config: { routing: { deadlineMs: 200 } } },
      { model: 'chat', messages },
      504,
      'deadline_exceeded',
    ],
  ])('raises a typed error: %s', async (_name, setup, body, status, code) => {
    const g = await start(setup);
    const err = await apiError(g.client.chat.completions.create(body as never));
    expect(err.status).toBe(status);
    expect(err.code).toBe(code);
  });

  it('raises 503 with Retry-After when no deployment can serve', async () => {
    const g = await start({
      mocks: [{ faults: { mode: 'error', status: 500 } }],
      // A long, unjittered cool-down: the probe stays in the future while the test reads it.
      config: { health: { minVolume: 1, backoff: { initialMs: 30_000, jitter: 'none' } }, routing: { deadlineMs: 200 } },
    });
    await apiError(g.client.chat.completions.create({ model: 'chat', messages }));
    const before = Date.now();
    const err = await apiError(g.client.chat.completions.create({ model: 'chat', messages }));
    const after = Date.now();
    expect(err.status).toBe(503);
    expect(err.code).toBe('no_provider_available');
    // The header is ceil(retryAfterMs / 1000), where retryAfterMs is the wait for the deployment's next probe,
    // measured when the gateway refused: somewhere between our sending and our reading the answer.
    const nextProbeAt = g.runtime.providers()[0]?.nextProbeAt;
    if (typeof nextProbeAt !== 'number') throw new Error('the tripped deployment has no next probe');
    const header = err.headers?.get('retry-after') ?? null;
    expect(header).toMatch(/^\d+$/);
    const seconds = Number(header);
    expect(seconds).toBeGreaterThanOrEqual(Math.ceil(Math.max(0, nextProbeAt - after) / 1000));
    expect(seconds).toBeLessThanOrEqual(Math.ceil(Math.max(0, nextProbeAt - before) / 1000));
    expect(seconds).toBeGreaterThan(0);
  });

  it('raises 401 without a valid API key, and serves with one', async () => {
    const g = await start({ server: { apiKeys: ['sk-right'] } });
    const wrong = new (g.client.constructor as typeof import('openai').default)({
      baseURL: `${g.url}/v1`,
      apiKey: 'sk-wrong',
      maxRetries: 0,
    });
    expect((await apiError(wrong.chat.completions.create({ model: 'chat', messages }))).status).toBe(401);
    expect((await g.client.chat.completions.create({ model: 'chat', messages })).choices).toHaveLength(1);
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
  });

  it('raises 413 context_overflow for a conversation message larger than the window', async () => {
    const g = await start({
      models: { chat: { model: 'mock-model', contextWindow: 300 } },
      config: { conversations: { reserveTokens: 50 } },
    });
    const { id } = (await (await g.post('/v1/conversations', { model: 'chat' })).json()) as { id: string };
    const err = await apiError(
      g.client.chat.completions.create({
        model: 'chat',
        messages: [{ role: 'user', content: 'word '.repeat(400) }],
        conversation_id: id,
      } as never),
    );
    expect(err.status).toBe(413);
    expect(err.code).toBe('context_overflow');
  });

  it('holds a stateful conversation over three turns: the client sends only its new message', async () => {
    const g = await start();
    const { id } = (await (await g.post('/v1/conversations', { model: 'chat', system: 'Be brief.' })).json()) as { id: string };
    const replies: string[] = [];
    for (const q of ['first question', 'second question', 'third question']) {
      const c = await g.client.chat.completions.create({
        model: 'chat',
        messages: [{ role: 'user', content: q }],
        conversation_id: id,
      } as never);
      replies.push(c.choices[0]?.message.content ?? '');
    }
    type View = { switchyard: { messages: { role: string; content: string }[] } };
    const view = ((await (await fetch(`${g.url}/v1/conversations/${id}`)).json()) as View).switchyard;
    expect(view.messages.map((m) => m.content)).toEqual([
      'first question',
      replies[0],
      'second question',
      replies[1],
      'third question',
      replies[2],
    ]);
    // Each turn's prompt carried the history: the mock's reply is derived from the whole prompt.
    const alone = await g.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'third question' }] });
    expect(alone.choices[0]?.message.content).not.toBe(replies[2]);
  });
});

describe('raw SSE', () => {
  it('frames every chunk as a data line, ends with [DONE], and sends usage when asked', async () => {
    const g = await start();
    const res = await g.post('/v1/chat/completions', { model: 'chat', messages, stream: true, stream_options: { include_usage: true } });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const frames = await readSse(res);
    expect(frames.at(-1)).toBe('[DONE]');
    const chunks = frames
      .slice(0, -1)
      .map(
        (f) =>
          JSON.parse(f) as { choices: { delta: { role?: string }; finish_reason: string | null }[]; usage?: unknown; switchyard?: unknown },
      );
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-2)?.switchyard).toMatchObject({ deployments: ['p0/mock-model'], continued: false });
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: expect.any(Number) } });
  });

  it('sends no usage chunk unless asked', async () => {
    const g = await start();
    const frames = await readSse(await g.post('/v1/chat/completions', { model: 'chat', messages, stream: true }));
    expect(frames.slice(0, -1).some((f) => 'usage' in JSON.parse(f))).toBe(false);
  });
});

describe('the conversation header', () => {
  it('accepts x-conversation-id as a per-request header of the openai SDK', async () => {
    const g = await start();
    const { id } = (await (await g.post('/v1/conversations', { model: 'chat' })).json()) as { id: string };
    await g.client.chat.completions.create(
      { model: 'chat', messages: [{ role: 'user', content: 'hello' }] },
      { headers: { 'x-conversation-id': id } },
    );
    const view = ((await (await fetch(`${g.url}/v1/conversations/${id}`)).json()) as { switchyard: { messages: unknown[] } }).switchyard;
    expect(view.messages).toHaveLength(2);
  });
});
