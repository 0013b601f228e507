// The Vercel AI SDK's default provider, `openai('model')`, speaks the Responses API: generateText, streamText,
// a tool loop over several steps, and an upstream fault with failover, as its users write them.

import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});
const providerFor = (g: Gateway) => createOpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused' });
const prompt = 'What does a gateway do?';

const searched: string[] = [];
const search = tool({
  description: 'Searches the docs',
  inputSchema: jsonSchema<{ query: string }>({
    type: 'object',
    properties: { query: { type: 'string' } },
    required: ['query'],
    additionalProperties: false,
  }),
  execute: async ({ query }) => {
    searched.push(query);
    return 'Gateways route requests to healthy providers.';
  },
});

describe.each(['chat', 'responses'] as const)("the AI SDK's default provider on a %s deployment", (api) => {
  it('generateText and streamText get the same answer over /v1/responses', async () => {
    gateway = await startGateway({ apis: [api] });
    const openai = providerFor(gateway);
    const whole = await generateText({ model: openai('chat'), prompt, maxRetries: 0 });
    expect(whole.text).toMatch(/\.$/);
    expect(whole.usage.inputTokens).toBeGreaterThan(0);
    expect(whole.usage.outputTokens).toBeGreaterThan(0);
    const streamed = streamText({ model: openai('chat'), prompt, maxRetries: 0 });
    let text = '';
    for await (const piece of streamed.textStream) text += piece;
    expect(text).toBe(whole.text);
    expect((await streamed.response).modelId).toBe('chat');
  });

  it('streamText runs a tool loop: a call, its result, then the answer', async () => {
    gateway = await startGateway({ apis: [api] });
    const openai = providerFor(gateway);
    searched.length = 0;
    const streamed = streamText({ model: openai('chat'), prompt, tools: { search }, stopWhen: stepCountIs(3), maxRetries: 0 });
    let text = '';
    for await (const piece of streamed.textStream) text += piece;
    const steps = await streamed.steps;
    expect(steps.length).toBe(2);
    expect(steps[0]?.toolCalls.map((c) => c.toolName)).toEqual(['search']);
    expect(searched).toHaveLength(1);
    expect(text).toMatch(/\.$/);
  });

  it('generateText with a tool, then a follow-up that sends the earlier messages back', async () => {
    gateway = await startGateway({ apis: [api] });
    const openai = providerFor(gateway);
    const first = await generateText({ model: openai('chat'), prompt, tools: { search }, stopWhen: stepCountIs(3), maxRetries: 0 });
    expect(first.steps).toHaveLength(2);
    // The SDK sends the stored assistant text back as an item_reference: resolved from the gateway's store.
    const next = await generateText({
      model: openai('chat'),
      messages: [{ role: 'user', content: prompt }, ...first.response.messages, { role: 'user', content: 'Say more.' }],
      maxRetries: 0,
    });
    expect(next.text).toMatch(/\.$/);
  });
});

describe('the AI SDK default provider and failover', () => {
  it('generateText gets the answer from the second deployment when the first answers 503', async () => {
    gateway = await startGateway({ apis: ['responses', 'chat'], mocks: [{ faults: { mode: 'error', status: 503 } }, {}] });
    const openai = providerFor(gateway);
    const result = await generateText({ model: openai('chat'), prompt, maxRetries: 0 });
    expect(result.text).toMatch(/\.$/);
    expect(gateway.mocks.map((m) => m.stats().requests)).toEqual([1, 1]);
  });

  it('an abort mid-stream ends the stream and reaches the upstream', async () => {
    gateway = await startGateway({ apis: ['responses'], mocks: [{ chunkDelayMs: 40 }] });
    const openai = providerFor(gateway);
    const controller = new AbortController();
    const streamed = streamText({ model: openai('chat'), prompt, abortSignal: controller.signal, maxRetries: 0, onError: () => {} });
    let pieces = 0;
    for await (const _piece of streamed.textStream) if (++pieces === 2) controller.abort();
    expect(pieces).toBe(2);
    const mock = gateway.mocks[0];
    for (let i = 0; i < 100 && mock?.stats().aborted === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(mock?.stats().aborted).toBe(1);
  });
});
