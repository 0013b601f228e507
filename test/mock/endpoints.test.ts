// The mock's Responses, embeddings, legacy completions, model lookup and chat logprobs, driven by the real
// openai SDK the way a gateway's tests use them.

import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { embeddingOf } from '../../src/mock/embeddings.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { countTokens } from '../../src/models/tokens.ts';

let mock: MockUpstream;
let client: OpenAI;
beforeEach(async () => {
  mock = await startMockUpstream({ models: ['mock-a'], contextWindow: 500 });
  client = new OpenAI({ baseURL: mock.url, apiKey: 'unused', maxRetries: 0 });
});
afterEach(async () => {
  await mock.close();
});

const chatText = async (messages: OpenAI.Chat.ChatCompletionMessageParam[]) =>
  (await client.chat.completions.create({ model: 'mock-a', messages })).choices[0]?.message.content ?? '';

describe('mock upstream: Responses API', () => {
  it('answers input text with the reply chat gives the same messages, and usage counted by tiktoken', async () => {
    const response = await client.responses.create({ model: 'mock-a', instructions: 'Be brief.', input: 'Tell me about gateways.' });
    const expected = await chatText([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Tell me about gateways.' },
    ]);
    expect(response.output_text).toBe(expected);
    expect(response).toMatchObject({ object: 'response', status: 'completed', model: 'mock-a' });
    expect(response.usage?.output_tokens).toBe(countTokens(expected));
  });

  it('streams named events whose deltas assemble to the whole reply, numbered in order, ending completed', async () => {
    const whole = (await client.responses.create({ model: 'mock-a', input: 'Stream this.' })).output_text;
    const stream = await client.responses.create({ model: 'mock-a', input: 'Stream this.', stream: true });
    const types: string[] = [];
    const sequence: number[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    expect(text).toBe(whole);
    expect(types.slice(0, 4)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(types.at(-1)).toBe('response.completed');
    expect(sequence).toEqual(sequence.map((_, i) => i));
  });

  it('calls a function tool, and answers in text once the tool output comes back', async () => {
    const tools: OpenAI.Responses.Tool[] = [
      { type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} }, strict: false },
    ];
    const first = await client.responses.create({ model: 'mock-a', input: 'Look it up.', tools });
    const call = first.output[0];
    expect(call?.type).toBe('function_call');
    if (call?.type !== 'function_call') return;
    expect(call.name).toBe('lookup');
    expect(JSON.parse(call.arguments)).toHaveProperty('query');
    const second = await client.responses.create({
      model: 'mock-a',
      tools,
      input: [
        { role: 'user', content: 'Look it up.' },
        { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: 'found it' },
      ],
    });
    expect(second.output[0]?.type).toBe('message');
    expect(second.output_text).not.toBe('');
  });

  it('gives structured output that fits the text.format schema', async () => {
    const schema = {
      type: 'object',
      properties: { title: { type: 'string' }, score: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } },
      required: ['title', 'score', 'tags'],
      additionalProperties: false,
    };
    const response = await client.responses.create({
      model: 'mock-a',
      input: 'Rate it.',
      text: { format: { type: 'json_schema', name: 'rating', schema, strict: true } },
    });
    const value = JSON.parse(response.output_text) as { title: unknown; score: unknown; tags: unknown };
    expect(typeof value.title).toBe('string');
    expect(Number.isInteger(value.score)).toBe(true);
    expect(Array.isArray(value.tags)).toBe(true);
  });

  it('keeps stored responses: read back, continued with previous_response_id, deleted', async () => {
    const first = await client.responses.create({ model: 'mock-a', input: 'First question.' });
    expect((await client.responses.retrieve(first.id)).output_text).toBe(first.output_text);
    const next = await client.responses.create({ model: 'mock-a', input: 'Second question.', previous_response_id: first.id });
    const expected = await chatText([
      { role: 'user', content: 'First question.' },
      { role: 'assistant', content: first.output_text },
      { role: 'user', content: 'Second question.' },
    ]);
    expect(next.output_text).toBe(expected);
    await client.responses.delete(first.id);
    await expect(client.responses.retrieve(first.id)).rejects.toMatchObject({ status: 404 });
    await expect(client.responses.create({ model: 'mock-a', input: 'x', previous_response_id: first.id })).rejects.toMatchObject({
      status: 404,
    });
  });

  it('does not keep a response sent with store: false', async () => {
    const response = await client.responses.create({ model: 'mock-a', input: 'Forget me.', store: false });
    await expect(client.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
  });

  it('stops at max_output_tokens with status incomplete', async () => {
    const response = await client.responses.create({ model: 'mock-a', input: 'Say a lot.', max_output_tokens: 3 });
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details?.reason).toBe('max_output_tokens');
    expect(countTokens(response.output_text)).toBeLessThanOrEqual(3);
  });

  it('applies faults: an error status with Retry-After, and a stream cut before response.completed', async () => {
    mock.setFaults({ mode: 'error', status: 503, retryAfterSeconds: 2 });
    await expect(client.responses.create({ model: 'mock-a', input: 'hi' })).rejects.toMatchObject({ status: 503 });
    mock.setFaults({ mode: 'cut', afterChunks: 2 });
    const stream = await client.responses.create({ model: 'mock-a', input: 'Cut me off.', stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types.filter((t) => t === 'response.output_text.delta')).toHaveLength(2);
    expect(types).not.toContain('response.completed');
    expect(mock.stats().outcomes).toMatchObject({ error: 1, cut: 1 });
    expect(mock.stats().byRoute.responses).toBe(2);
  });

  it('names the field of a malformed request', async () => {
    await expect(client.responses.create({ model: 'mock-a', input: [] })).rejects.toMatchObject({ status: 400, param: 'input' });
    const res = await fetch(`${mock.url}/responses`, { method: 'POST', body: '{"model":"mock-a","input":[{"type":"weird"}]}' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('input[0]');
  });
});

describe('mock upstream: embeddings', () => {
  it('gives each input a deterministic unit vector, through the SDK (base64 on the wire) and as floats', async () => {
    const viaSdk = await client.embeddings.create({ model: 'mock-a', input: ['alpha', 'beta'] });
    expect(viaSdk.data).toHaveLength(2);
    const alpha = viaSdk.data[0]?.embedding ?? [];
    expect(alpha).toHaveLength(64);
    expect(Math.hypot(...alpha)).toBeCloseTo(1, 5);
    const floats = await client.embeddings.create({ model: 'mock-a', input: 'alpha', encoding_format: 'float', dimensions: 16 });
    expect(floats.data[0]?.embedding).toEqual(embeddingOf('alpha', 16));
    expect(alpha.map((v) => Math.fround(v))).toEqual(embeddingOf('alpha', 64).map((v) => Math.fround(v)));
    expect(viaSdk.data[1]?.embedding).not.toEqual(alpha);
    expect(viaSdk.usage).toEqual({
      prompt_tokens: countTokens('alpha') + countTokens('beta'),
      total_tokens: countTokens('alpha') + countTokens('beta'),
    });
  });

  it('rejects empty or malformed input with the field named, and counts faults like chat', async () => {
    await expect(client.embeddings.create({ model: 'mock-a', input: '' })).rejects.toMatchObject({ status: 400, param: 'input' });
    await expect(client.embeddings.create({ model: 'mock-a', input: 'x', dimensions: 0 })).rejects.toMatchObject({ status: 400 });
    mock.setFaults({ mode: 'error', status: 500 });
    await expect(client.embeddings.create({ model: 'mock-a', input: 'x' })).rejects.toMatchObject({ status: 500 });
    expect(mock.stats().outcomes).toMatchObject({ rejected: 2, error: 1 });
  });
});

describe('mock upstream: chat details a faithful gateway must pass on', () => {
  it('sends logprobs per streamed chunk and whole, with system_fingerprint and service_tier', async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Probabilities, please.' }];
    const whole = await client.chat.completions.create({ model: 'mock-a', messages, logprobs: true, top_logprobs: 2 });
    const tokens = whole.choices[0]?.logprobs?.content ?? [];
    expect(tokens.map((t) => t.token).join('')).toBe(whole.choices[0]?.message.content);
    expect(tokens[0]?.top_logprobs).toHaveLength(2);
    expect(whole).toMatchObject({ system_fingerprint: 'fp_switchyard_mock', service_tier: 'default' });
    const stream = await client.chat.completions.create({ model: 'mock-a', messages, logprobs: true, top_logprobs: 2, stream: true });
    const streamed: string[] = [];
    for await (const chunk of stream) {
      expect(chunk.system_fingerprint).toBe('fp_switchyard_mock');
      for (const t of chunk.choices[0]?.logprobs?.content ?? []) streamed.push(t.token);
    }
    expect(streamed).toEqual(tokens.map((t) => t.token));
  });

  it('answers structured output (response_format json_schema) with JSON that fits', async () => {
    const completion = await client.chat.completions.create({
      model: 'mock-a',
      messages: [{ role: 'user', content: 'A city, please.' }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'city', schema: { type: 'object', properties: { name: { type: 'string' }, big: { type: 'boolean' } } } },
      },
    });
    const value = JSON.parse(completion.choices[0]?.message.content ?? '') as { name: unknown; big: unknown };
    expect(typeof value.name).toBe('string');
    expect(typeof value.big).toBe('boolean');
  });
});

describe('mock upstream: legacy completions and model lookup', () => {
  it('answers /v1/completions whole and streamed with the same text', async () => {
    const whole = await client.completions.create({ model: 'mock-a', prompt: 'Once upon a time', max_tokens: 50 });
    const stream = await client.completions.create({ model: 'mock-a', prompt: 'Once upon a time', max_tokens: 50, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(whole.choices[0]?.text);
    expect(whole.choices[0]?.finish_reason).toBe('stop');
  });

  it('retrieves a listed model and answers 404 model_not_found for another', async () => {
    expect(await client.models.retrieve('mock-a')).toMatchObject({ id: 'mock-a', object: 'model' });
    await expect(client.models.retrieve('nope')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });
});
