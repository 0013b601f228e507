// `conversation` on POST /v1/responses: the turn goes through the conversation actors, the same path as
// x-conversation-id on chat completions — the server keeps the history, plain and streamed.

import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

describe('Responses on a stored conversation', () => {
  it('stores each turn in the conversation and answers it as a response, plain and streamed', async () => {
    gateway = await startGateway({ apis: ['responses'] });
    const { id } = await gateway.runtime.conversations.create({ model: 'chat', system: 'Be brief.' });
    const first = await gateway.client.responses.create({ model: 'chat', input: 'What is a gateway?', conversation: id });
    expect(first.output_text).toMatch(/\.$/);
    expect((first as unknown as { conversation: { id: string } }).conversation).toEqual({ id });
    const stream = await gateway.client.responses.create({ model: 'chat', input: 'And a provider?', conversation: { id }, stream: true });
    let streamed = '';
    for await (const event of stream) if (event.type === 'response.output_text.delta') streamed += event.delta;
    const view = await gateway.runtime.conversations.get(id);
    expect(view.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'What is a gateway?'],
      ['assistant', first.output_text],
      ['user', 'And a provider?'],
      ['assistant', streamed],
    ]);
    // The turn reached an upstream with the history: the same answer as the whole exchange sent at once.
    const direct = await gateway.client.responses.create({
      model: 'chat',
      instructions: 'Be brief.',
      input: [
        { role: 'user', content: 'What is a gateway?' },
        { role: 'assistant', content: first.output_text },
        { role: 'user', content: 'And a provider?' },
      ],
    });
    expect(streamed).toBe(direct.output_text);
  });

  it("another tenant's conversation is not found, and the input must end with the user's text", async () => {
    gateway = await startGateway({
      server: {
        keys: [
          { key: 'sk-a', tenant: 'a', role: 'user' },
          { key: 'sk-b', tenant: 'b', role: 'user' },
        ],
      },
    });
    const { id } = await gateway.runtime.conversations.create({ model: 'chat', tenant: 'a' });
    const b = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-b', maxRetries: 0 });
    const err = await b.responses.create({ model: 'chat', input: 'hi', conversation: id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    const a = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-a', maxRetries: 0 });
    const wrong = await a.responses
      .create({ model: 'chat', conversation: id, input: [{ type: 'function_call_output', call_id: 'c', output: 'x' }] })
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(OpenAI.BadRequestError);
  });
});
