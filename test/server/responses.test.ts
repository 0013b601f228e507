// The Responses API through the gateway with the openai SDK: translated to chat-only deployments and passed
// through to deployments that speak Responses, plain and streamed, tools, structured output, stored responses.

import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterEach, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

const input = 'What does a gateway do?';
const instructions = 'Answer in one sentence.';
const searchTool = {
  type: 'function' as const,
  name: 'search',
  description: 'Searches the docs',
  parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'], additionalProperties: false },
  strict: true,
};

/** The chat answer to the same conversation: what a translated Responses request must get. */
async function chatAnswer(g: Gateway) {
  const completion = await g.client.chat.completions.create({
    model: 'chat',
    messages: [
      { role: 'system', content: instructions },
      { role: 'user', content: input },
    ],
  });
  return completion.choices[0]?.message.content ?? '';
}

async function collect(stream: AsyncIterable<ResponseStreamEvent>) {
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe.each(['chat', 'responses'] as const)('the Responses API on a %s deployment', (api) => {
  it('creates a response with the answer the chat API gives, usage in input and output tokens', async () => {
    gateway = await startGateway({ apis: [api] });
    const response = await gateway.client.responses.create({ model: 'chat', input, instructions });
    expect(gateway.mocks[0]?.stats().byRoute.responses).toBe(api === 'responses' ? 1 : 0);
    expect(response.output_text).toBe(await chatAnswer(gateway));
    expect(response.id).toMatch(/^resp_/);
    expect(response.model).toBe('chat');
    expect(response.status).toBe('completed');
    expect(response.usage?.input_tokens).toBeGreaterThan(0);
    expect(response.usage?.output_tokens).toBeGreaterThan(0);
  });

  it('streams the Responses events in order, ending with the whole response', async () => {
    gateway = await startGateway({ apis: [api] });
    const events = await collect(await gateway.client.responses.create({ model: 'chat', input, instructions, stream: true }));
    const types = [...new Set(events.map((e) => e.type))];
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const text = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');
    expect(text).toBe(await chatAnswer(gateway));
    const sequence = events.map((e) => e.sequence_number);
    expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
    const completed = events.at(-1);
    if (completed?.type !== 'response.completed') throw new Error('no response.completed');
    expect(
      completed.response.output_text ?? completed.response.output.flatMap((o) => (o.type === 'message' ? o.content : [])),
    ).toBeTruthy();
    expect(completed.response.usage?.output_tokens).toBeGreaterThan(0);
    const stored = await gateway.client.responses.retrieve(completed.response.id);
    expect(stored.output_text).toBe(text);
  });

  it('calls a function, then answers its output through previous_response_id', async () => {
    gateway = await startGateway({ apis: [api] });
    const first = await gateway.client.responses.create({ model: 'chat', input, tools: [searchTool] });
    const call = first.output.find((o) => o.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('no function call');
    expect(call.name).toBe('search');
    expect(JSON.parse(call.arguments)).toHaveProperty('query');
    const second = await gateway.client.responses.create({
      model: 'chat',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'Gateways route requests.' }],
      tools: [searchTool],
    });
    expect(second.output_text).toMatch(/\.$/);
    expect(second.previous_response_id).toBe(first.id);
  });

  it('streams a function call as output_item.added and function_call_arguments deltas', async () => {
    gateway = await startGateway({ apis: [api] });
    const events = await collect(await gateway.client.responses.create({ model: 'chat', input, tools: [searchTool], stream: true }));
    const args = events.flatMap((e) => (e.type === 'response.function_call_arguments.delta' ? [e.delta] : [])).join('');
    const done = events.find((e) => e.type === 'response.function_call_arguments.done');
    expect(done?.type === 'response.function_call_arguments.done' && done.arguments).toBe(args);
    expect(JSON.parse(args)).toHaveProperty('query');
    expect(events.at(-1)?.type).toBe('response.completed');
  });

  it('answers with JSON that matches text.format json_schema', async () => {
    gateway = await startGateway({ apis: [api] });
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    const response = await gateway.client.responses.create({
      model: 'chat',
      input,
      text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } },
    });
    expect(typeof (JSON.parse(response.output_text) as { answer: unknown }).answer).toBe('string');
  });

  // With a key: without keys the loopback guard wants a JSON content type on DELETE, which the SDK does not send.
  it('the SDK helpers read it: responses.parse gives output_parsed, responses.stream a final response', async () => {
    gateway = await startGateway({ apis: [api] });
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    const parsed = await gateway.client.responses.parse({
      model: 'chat',
      input,
      text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } },
    });
    expect(typeof (parsed.output_parsed as { answer?: unknown } | null)?.answer).toBe('string');
    const stream = gateway.client.responses.stream({ model: 'chat', input, instructions });
    let text = '';
    stream.on('response.output_text.delta', (e) => {
      text += e.delta;
    });
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(text);
    expect(text).toBe(await chatAnswer(gateway));
  });

  it('deletes a stored response: reading it then is 404 response_not_found', async () => {
    gateway = await startGateway({ apis: [api], server: { apiKeys: ['sk-one'] } });
    const response = await gateway.client.responses.create({ model: 'chat', input });
    expect((await gateway.client.responses.retrieve(response.id)).id).toBe(response.id);
    await gateway.client.responses.delete(response.id);
    const err = await gateway.client.responses.retrieve(response.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('response_not_found');
  });
});

describe('Responses pass-through', () => {
  it('hands on the upstream Response whole, with the gateway id and the logical model', async () => {
    gateway = await startGateway({ apis: ['responses'] });
    const response = await gateway.client.responses.create({ model: 'chat', input, store: false });
    // The mock's own item ids and fields survive: nothing was rebuilt.
    expect(response.output[0]?.id).toMatch(/^msg_mock_/);
    expect((response as unknown as { store: boolean }).store).toBe(false);
    // store: false keeps nothing here either.
    const err = await gateway.client.responses.retrieve(response.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("writes the upstream's stream events as they came", async () => {
    gateway = await startGateway({ apis: ['responses'] });
    const res = await gateway.post('/v1/responses', { model: 'chat', input, stream: true });
    const text = await res.text();
    const deltas = text.split('\n\n').filter((block) => block.startsWith('event: response.output_text.delta'));
    expect(deltas.length).toBeGreaterThan(3);
    for (const block of deltas) {
      const data = JSON.parse(block.slice(block.indexOf('data: ') + 6)) as Record<string, unknown>;
      // The mock's key order and fields, byte for byte.
      expect(Object.keys(data)).toEqual(['type', 'sequence_number', 'item_id', 'output_index', 'content_index', 'delta', 'logprobs']);
      expect(data.item_id).toMatch(/^msg_mock_/);
    }
  });

  it('a chat client gets chat completions from a deployment that speaks only Responses', async () => {
    gateway = await startGateway({ apis: ['responses'] });
    const completion = await gateway.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: input }] });
    expect(completion.choices[0]?.message.content).toMatch(/\.$/);
    let streamed = '';
    const stream = await gateway.client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: input }],
      stream: true,
    });
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
    expect(streamed).toBe(completion.choices[0]?.message.content);
    expect(gateway.mocks[0]?.stats().byRoute).toMatchObject({ responses: 2, chat: 0 });
  });
});
