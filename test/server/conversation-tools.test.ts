// Issue 16, "conversations keep the whole request": every chat parameter of a conversation turn reaches the
// upstream, and a tool loop runs through a stored conversation (plain and streamed) with the real openai SDK.
// A recording hop between the gateway and the mock shows what the upstream received.

import OpenAI from 'openai';
import type { ChatCompletionMessageToolCall, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../src/mock/server.ts';
import { countMessageTokens } from '../../src/models/tokens.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { type Recorder, startRecorder } from '../helpers/recorder.ts';

const key = 'sk-test-0123456789';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start() {
  const mock = await startMockUpstream();
  const recorder = await startRecorder(mock.url);
  const runtime = createRuntime({ providers: [{ id: 'p0', baseURL: recorder.url, models: { chat: 'mock-model' } }] });
  // With a key, as in production: the keyless loopback guard refuses a DELETE without a JSON content type.
  const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [key] });
  cleanups.push(
    () => mock.close(),
    () => recorder.close(),
    () => server.shutdown(100),
  );
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key, maxRetries: 0 });
  return { client, recorder, url: server.url };
}

const weather: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { query: { type: 'string' } } },
  },
};

/** Everything a client may send beside messages: each must reach the upstream as sent. */
const extras = {
  tools: [weather],
  tool_choice: 'auto' as const,
  parallel_tool_calls: false,
  temperature: 0.25,
  top_p: 0.9,
  max_completion_tokens: 300,
  seed: 7,
  user: 'user-1',
  logprobs: true,
  top_logprobs: 2,
  presence_penalty: 0.5,
};

const lastChat = (r: Recorder) => r.chats.at(-1) ?? {};
const roles = (r: Recorder) => (lastChat(r).messages as { role: string }[]).map((m) => m.role);

describe('a tool loop through a stored conversation', () => {
  it('sends every parameter upstream, stores the call and its result as items, and answers with the result in the prompt', async () => {
    const { client, recorder } = await start();
    const conversation = await client.conversations.create({ metadata: { topic: 'weather' } });
    const headers = { 'x-conversation-id': conversation.id };
    const first = await client.chat.completions.create(
      { model: 'chat', messages: [{ role: 'user', content: 'What is the weather in Paris?' }], ...extras },
      { headers },
    );
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    const call = first.choices[0]?.message.tool_calls?.[0] as ChatCompletionMessageToolCall & { type: 'function' };
    expect(call.function.name).toBe('get_weather');
    expect(lastChat(recorder)).toMatchObject({ model: 'mock-model', ...extras });
    expect(roles(recorder)).toEqual(['user']);

    // The client's own loop: the assistant message and the tool result appended; only the result is new.
    const second = await client.chat.completions.create(
      {
        model: 'chat',
        messages: [
          { role: 'user', content: 'What is the weather in Paris?' },
          first.choices[0]?.message ?? { role: 'assistant', content: null },
          { role: 'tool', tool_call_id: call.id, content: '{"celsius":21}' },
        ],
        ...extras,
      },
      { headers },
    );
    expect(second.choices[0]?.finish_reason).toBe('stop');
    expect(second.choices[0]?.message.content).not.toBe('');
    const sent = lastChat(recorder).messages as { role: string; tool_calls?: { id: string }[]; tool_call_id?: string }[];
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(sent[1]?.tool_calls?.[0]?.id).toBe(call.id);
    expect(sent[2]?.tool_call_id).toBe(call.id);

    const items = [];
    for await (const item of client.conversations.items.list(conversation.id, { order: 'asc' })) items.push(item);
    expect(items.map((i) => i.type)).toEqual(['message', 'function_call', 'function_call_output', 'message']);
    expect(items[1]).toMatchObject({ type: 'function_call', call_id: call.id, name: 'get_weather', arguments: call.function.arguments });
    expect(items[2]).toMatchObject({ type: 'function_call_output', call_id: call.id, output: '{"celsius":21}' });
  });

  it('counts the call and the result in the window', async () => {
    const { client, url } = await start();
    const { id } = await client.conversations.create({});
    const headers = { 'x-conversation-id': id };
    const first = await client.chat.completions.create(
      { model: 'chat', messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [weather] },
      { headers },
    );
    const call = first.choices[0]?.message.tool_calls?.[0] as ChatCompletionMessageToolCall;
    await client.chat.completions.create(
      { model: 'chat', messages: [{ role: 'tool', tool_call_id: call.id, content: 'snow' }], tools: [weather] },
      { headers },
    );
    type View = { switchyard: { tokens: number; messages: { role: string; content: string; tokens: number }[] } };
    const view = ((await (await fetch(`${url}/v1/conversations/${id}`, { headers: { authorization: `Bearer ${key}` } })).json()) as View)
      .switchyard;
    const [, callMessage, result] = view.messages;
    // More than their text alone: the call's name and arguments, and the id the result answers, count too.
    expect(callMessage?.tokens).toBeGreaterThan(countMessageTokens({ role: 'assistant', content: '' }) + 3);
    expect(result?.tokens).toBeGreaterThan(countMessageTokens({ role: 'tool', content: 'snow' }));
    expect(view.tokens).toBeGreaterThanOrEqual(view.messages.reduce((n, m) => n + m.tokens, 0));
  });

  it('runs the same loop streamed: the call arrives in pieces, is stored whole, and the result turn streams its answer', async () => {
    const { client, recorder } = await start();
    const { id } = await client.conversations.create({});
    const headers = { 'x-conversation-id': id };
    const stream = await client.chat.completions.create(
      { model: 'chat', messages: [{ role: 'user', content: 'Weather in Rome?' }], ...extras, stream: true },
      { headers },
    );
    let callId = '';
    let args = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      callId ||= delta?.tool_calls?.[0]?.id ?? '';
      args += delta?.tool_calls?.[0]?.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('tool_calls');
    expect(callId).toMatch(/^call_/);
    expect(lastChat(recorder)).toMatchObject({ ...extras, stream: true });

    const answer = await client.chat.completions.create(
      { model: 'chat', messages: [{ role: 'tool', tool_call_id: callId, content: '{"celsius":30}' }], tools: [weather], stream: true },
      { headers },
    );
    let text = '';
    for await (const chunk of answer) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).not.toBe('');
    expect(roles(recorder)).toEqual(['user', 'assistant', 'tool']);
    const page = await client.conversations.items.list(id, { order: 'asc' });
    expect(page.data.map((i) => i.type)).toEqual(['message', 'function_call', 'function_call_output', 'message']);
    expect(page.data[1]).toMatchObject({ call_id: callId, arguments: args });
  });

  it('sends the tool loop through /messages too, with its parameters', async () => {
    const { client, recorder, url } = await start();
    const { id } = await client.conversations.create({});
    const post = async (body: unknown, extra: Record<string, string> = {}) =>
      (await (
        await fetch(`${url}/v1/conversations/${id}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...extra },
          body: JSON.stringify(body),
        })
      ).json()) as { tool_calls?: { id: string }[]; finish_reason: string; content: string; replayed: boolean };
    const first = await post({ content: 'Weather in Lima?', tools: [weather], temperature: 0.5 });
    expect(first.finish_reason).toBe('tool_calls');
    expect(lastChat(recorder)).toMatchObject({ tools: [weather], temperature: 0.5 });
    const callId = first.tool_calls?.[0]?.id ?? '';
    const result = { messages: [{ role: 'tool', tool_call_id: callId, content: 'sunny' }], tools: [weather] };
    const second = await post(result, { 'idempotency-key': 'result-1' });
    expect(second.finish_reason).toBe('stop');
    expect(roles(recorder)).toEqual(['user', 'assistant', 'tool']);
    // The same result again with its key: the stored answer, no second upstream call, no second result stored.
    const calls = recorder.chats.length;
    expect(await post(result, { 'idempotency-key': 'result-1' })).toMatchObject({ replayed: true, content: second.content });
    expect(recorder.chats.length).toBe(calls);
    const items = await client.conversations.items.list(id);
    expect(items.data.filter((i) => i.type === 'function_call_output')).toHaveLength(1);
  });

  it("returns the upstream's logprobs on a plain conversation turn, and none on its replay", async () => {
    const { client } = await start();
    const conversation = await client.conversations.create({});
    const ask = () =>
      client.chat.completions.create(
        { model: 'chat', messages: [{ role: 'user', content: 'Say something' }], logprobs: true, top_logprobs: 2 },
        { headers: { 'x-conversation-id': conversation.id, 'idempotency-key': 'logprobs-1' } },
      );
    const first = await ask();
    const tokens = first.choices[0]?.logprobs?.content ?? [];
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.map((t) => t.token).join('')).toBe(first.choices[0]?.message.content);
    expect(tokens[0]?.top_logprobs).toHaveLength(2);
    // The stored reply keeps its text, not its logprobs.
    const replayed = await ask();
    expect(replayed.choices[0]?.message.content).toBe(first.choices[0]?.message.content);
    expect(replayed.choices[0]?.logprobs).toBeNull();
  });
});
