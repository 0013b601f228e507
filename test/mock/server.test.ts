import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { countChatTokens, countTokens } from '../../src/models/tokens.ts';
import { readSse } from '../helpers/sse.ts';
import { waitUntil } from '../helpers/wait.ts';

interface ErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}
const completionOf = async (res: Response | Promise<Response>) => (await (await res).json()) as ChatCompletion;
const errorOf = async (res: Response) => (await res.json()) as ErrorBody;
const chunksOf = (frames: string[]) => frames.map((f) => JSON.parse(f) as ChatCompletionChunk);

let mock: MockUpstream;
beforeEach(async () => {
  mock = await startMockUpstream({ models: ['mock-a', 'mock-b'], contextWindow: 200 });
});
afterEach(async () => {
  await mock.close();
});

const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Tell me about gateways.' },
];
const post = (body: unknown, path = '/chat/completions') =>
  fetch(`${mock.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const control = (method: string, body?: unknown) =>
  fetch(mock.url.replace(/\/v1$/, '/_mock/faults'), {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe('mock upstream: answers', () => {
  it('lists its models', async () => {
    const body = (await (await fetch(`${mock.url}/models`)).json()) as { data: { id: string }[] };
    expect(body.data.map((m) => m.id)).toEqual(['mock-a', 'mock-b']);
  });

  it('answers the same prompt with the same reply, with usage counted by tiktoken', async () => {
    const a = await completionOf(post({ model: 'mock-a', messages }));
    const b = await completionOf(post({ model: 'mock-a', messages }));
    const c = await completionOf(post({ model: 'mock-a', messages: [{ role: 'user', content: 'Something else' }] }));
    const text = a.choices[0]?.message.content ?? '';
    expect(b.choices[0]?.message.content).toBe(text);
    expect(c.choices[0]?.message.content).not.toBe(text);
    expect(a.usage).toEqual({
      prompt_tokens: countChatTokens(messages),
      completion_tokens: countTokens(text),
      total_tokens: countChatTokens(messages) + countTokens(text),
    });
    expect(a).toMatchObject({ object: 'chat.completion', model: 'mock-a', choices: [{ finish_reason: 'stop' }] });
  });

  it('streams SSE chunks that assemble to the same reply, then a usage chunk and [DONE]', async () => {
    const whole = (await completionOf(post({ model: 'mock-a', messages }))).choices[0]?.message.content ?? '';
    const res = await post({ model: 'mock-a', messages, stream: true, stream_options: { include_usage: true } });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const frames = await readSse(res);
    expect(frames.at(-1)).toBe('[DONE]');
    const chunks = chunksOf(frames.slice(0, -1));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(whole);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: countTokens(whole) } });
  });

  it('sends no usage chunk unless asked for', async () => {
    const chunks = chunksOf((await readSse(await post({ model: 'mock-a', messages, stream: true }))).slice(0, -1));
    expect(chunks.some((c) => 'usage' in c)).toBe(false);
  });

  it('stops at max_tokens with finish_reason length', async () => {
    const body = await completionOf(post({ model: 'mock-a', messages, max_tokens: 3 }));
    expect(body.choices[0]?.finish_reason).toBe('length');
    expect(body.usage?.completion_tokens).toBe(3);
  });

  it('rejects a prompt over its context window with OpenAI context_length_exceeded', async () => {
    const res = await post({ model: 'mock-a', messages: [{ role: 'user', content: 'word '.repeat(400) }] });
    expect(res.status).toBe(400);
    const body = await errorOf(res);
    expect(body.error).toMatchObject({ code: 'context_length_exceeded', type: 'invalid_request_error', param: 'messages' });
  });

  it('rejects malformed requests with an OpenAI error body naming the field', async () => {
    const res = await post({ model: 'mock-a', messages: [] });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).error.param).toBe('messages');
    const bad = await fetch(`${mock.url}/chat/completions`, { method: 'POST', body: '{not json' });
    expect(bad.status).toBe(400);
    expect(mock.stats().outcomes.rejected).toBe(2);
  });

  it('waits latencyMs before answering', async () => {
    const slow = await startMockUpstream({ latencyMs: 120 });
    try {
      const started = performance.now();
      await fetch(`${slow.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages }) });
      expect(performance.now() - started).toBeGreaterThanOrEqual(110);
    } finally {
      await slow.close();
    }
  });

  it('requires the API key when configured', async () => {
    const locked = await startMockUpstream({ apiKey: 'sekret' });
    try {
      expect((await fetch(`${locked.url}/models`)).status).toBe(401);
      expect((await fetch(`${locked.url}/models`, { headers: { authorization: 'Bearer sekret' } })).status).toBe(200);
    } finally {
      await locked.close();
    }
  });
});

describe('mock upstream: faults', () => {
  it('answers error mode with the status, an OpenAI error body and Retry-After', async () => {
    expect((await control('POST', { mode: 'error', status: 429, retryAfterSeconds: 2 })).status).toBe(200);
    const res = await post({ model: 'mock-a', messages });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
    expect((await errorOf(res)).error.type).toBe('rate_limit_error');
    expect(mock.stats().outcomes.error).toBe(1);
  });

  it('rejects an invalid fault body naming the field, and keeps the faults it had', async () => {
    await control('POST', { mode: 'error', status: 503 });
    for (const [body, param] of [
      [{ mode: 'explode' }, 'mode'],
      [{ status: 99 }, 'status'],
      [{ rate: 1.5 }, 'rate'],
      [{ afterChunks: -1 }, 'afterChunks'],
      [[], 'body'],
    ] as const) {
      const res = await control('POST', body);
      expect(res.status).toBe(400);
      expect((await errorOf(res)).error.param).toBe(param);
    }
    expect(mock.faults()).toMatchObject({ mode: 'error', status: 503 });
  });

  it('heals on DELETE /_mock/faults', async () => {
    await control('POST', { mode: 'error', status: 500 });
    expect((await post({ model: 'mock-a', messages })).status).toBe(500);
    await control('DELETE');
    expect((await post({ model: 'mock-a', messages })).status).toBe(200);
  });

  it('applies a fault to the given share of requests', async () => {
    const draws = [0.1, 0.9, 0.2, 0.8];
    const partial = await startMockUpstream({ random: () => draws.shift() ?? 0, faults: { mode: 'error', status: 502, rate: 0.5 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push(
          (await fetch(`${partial.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages }) })).status,
        );
      }
      expect(statuses).toEqual([502, 200, 502, 200]);
    } finally {
      await partial.close();
    }
  });

  it('destroys the socket in reset mode', async () => {
    mock.setFaults({ mode: 'reset' });
    await expect(post({ model: 'mock-a', messages })).rejects.toThrow();
    expect(mock.stats().outcomes.reset).toBe(1);
  });

  it('cuts a stream after afterChunks content chunks, without finish_reason or [DONE]', async () => {
    mock.setFaults({ mode: 'cut', afterChunks: 3 });
    const frames = await readSse(await post({ model: 'mock-a', messages, stream: true }));
    expect(frames).not.toContain('[DONE]');
    const chunks = chunksOf(frames);
    expect(chunks).toHaveLength(4); // the role chunk, then three content chunks
    expect(chunks.every((c) => c.choices[0]?.finish_reason === null)).toBe(true);
    expect(mock.stats().outcomes.cut).toBe(1);
  });

  it('never answers in hang mode, and counts the request aborted when the client gives up', async () => {
    mock.setFaults({ mode: 'hang' });
    const gaveUp = post({ model: 'mock-a', messages });
    await expect(
      fetch(`${mock.url}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', messages }),
        signal: AbortSignal.timeout(150),
      }),
    ).rejects.toThrow();
    await waitUntil(() => mock.stats().aborted === 1);
    expect(mock.stats()).toMatchObject({ inFlight: 1, outcomes: { hang: 2 } });
    void gaveUp.catch(() => {});
  });
});

describe('mock upstream: continuation', () => {
  const cutAfter = 4;
  /** The uncut reply, and the part a stream cut after `cutAfter` words delivered. */
  async function uncutAndPartial() {
    const whole = (await completionOf(post({ model: 'mock-a', messages }))).choices[0]?.message.content ?? '';
    const partial = (whole.match(/\s*\S+/g) ?? []).slice(0, cutAfter).join('');
    return { whole, partial };
  }
  const instructed = (partial: string) => [...messages, { role: 'assistant', content: partial }, { role: 'user', content: 'Continue.' }];
  const replyTo = async (body: unknown) => (await completionOf(post(body))).choices[0]?.message.content ?? '';

  it('continues with the exact rest by default', async () => {
    const { whole, partial } = await uncutAndPartial();
    expect(partial + (await replyTo({ model: 'mock-a', messages: instructed(partial) }))).toBe(whole);
  });

  it('repeats the last words first in overlap mode, and starts again in restart mode', async () => {
    const { whole, partial } = await uncutAndPartial();
    mock.setFaults({ continuation: 'overlap' });
    const overlap = await replyTo({ model: 'mock-a', messages: instructed(partial) });
    expect(overlap).toBe(partial.trim().split(' ').slice(-3).join(' ') + whole.slice(partial.length));
    mock.setFaults({ continuation: 'restart' });
    expect(await replyTo({ model: 'mock-a', messages: instructed(partial) })).toBe(whole);
  });

  it('always continues exactly when asked with continue_final_message', async () => {
    const { whole, partial } = await uncutAndPartial();
    mock.setFaults({ continuation: 'restart' });
    const rest = await replyTo({
      model: 'mock-a',
      messages: [...messages, { role: 'assistant', content: partial }],
      continue_final_message: true,
      add_generation_prompt: false,
    });
    expect(partial + rest).toBe(whole);
  });

  it('never repeats a word within a reply', async () => {
    for (const content of ['one', 'two', 'three', 'a longer prompt about gateways']) {
      const words = (await replyTo({ model: 'm', messages: [{ role: 'user', content }] })).toLowerCase().replace('.', '').split(' ');
      expect(new Set(words).size).toBe(words.length);
    }
  });
});

describe('mock upstream: tool calls', () => {
  const tools = [
    { type: 'function', function: { name: 'search', parameters: { type: 'object' } } },
    { type: 'function', function: { name: 'weather', parameters: { type: 'object' } } },
  ];

  it('calls the first tool, or the one tool_choice names, with arguments derived from the prompt', async () => {
    const first = await completionOf(post({ model: 'mock-a', messages, tools }));
    expect(first.choices[0]).toMatchObject({ finish_reason: 'tool_calls', message: { content: null } });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(call).toMatchObject({ type: 'function', function: { name: 'search' } });
    const again = await completionOf(post({ model: 'mock-a', messages, tools }));
    expect(again.choices[0]?.message.tool_calls?.[0]).toEqual(call);
    const chosen = await completionOf(
      post({ model: 'mock-a', messages, tools, tool_choice: { type: 'function', function: { name: 'weather' } } }),
    );
    expect(chosen.choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: 'weather' } });
  });

  it('answers in text with tool_choice none, or once the last message is a tool result', async () => {
    const none = await completionOf(post({ model: 'mock-a', messages, tools, tool_choice: 'none' }));
    expect(none.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: expect.any(String) } });
    const after = await completionOf(
      post({ model: 'mock-a', tools, messages: [...messages, { role: 'tool', tool_call_id: 'call_1', content: 'found it' }] }),
    );
    expect(after.choices[0]?.finish_reason).toBe('stop');
  });

  it('streams a tool call as its id and name, then its arguments in pieces', async () => {
    const whole = (await completionOf(post({ model: 'mock-a', messages, tools }))).choices[0]?.message.tool_calls?.[0];
    const frames = chunksOf((await readSse(await post({ model: 'mock-a', messages, tools, stream: true }))).filter((f) => f !== '[DONE]'));
    const deltas = frames.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    expect(deltas[0]).toMatchObject({ index: 0, id: whole?.id, function: { name: 'search', arguments: '' } });
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.map((d) => d.function?.arguments ?? '').join('')).toBe(whole?.type === 'function' ? whole.function.arguments : '');
    expect(frames.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('refuses malformed tools with a 400 naming the field', async () => {
    for (const [body, param] of [
      [{ tools: [] }, 'tools'],
      [{ tools: [{ type: 'function' }] }, 'tools[0].function.name'],
      [{ tools, tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice'],
    ] as const) {
      const res = await post({ model: 'mock-a', messages, ...body });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).error.param).toBe(param);
    }
  });
});
