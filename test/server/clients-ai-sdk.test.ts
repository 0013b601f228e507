// The Vercel AI SDK (`ai` + `@ai-sdk/openai`) against the gateway as its users write it: chat completions
// through `openai.chat(...)` (the default provider, which speaks the Responses API: clients-ai-sdk-responses.test.ts) and
// embeddings through `openai.embedding(...)`, with an upstream fault and failover.

import { createOpenAI } from '@ai-sdk/openai';
import { embed, embedMany, generateText, streamText } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { embeddingOf } from '../../src/mock/embeddings.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});
const models = { chat: 'mock-model', embed: 'mock-embed' };
const providerFor = (g: Gateway) => createOpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused' });
const prompt = 'What does a gateway do?';
const close = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => Math.abs(v - (b[i] ?? Number.NaN)) < 1e-6);

describe('the AI SDK against Switchyard', () => {
  it('generateText with openai.chat gets the same text the gateway streams to streamText', async () => {
    gateway = await startGateway({ models });
    const openai = providerFor(gateway);
    const whole = await generateText({ model: openai.chat('chat'), prompt, maxRetries: 0 });
    expect(whole.text).toMatch(/\.$/);
    expect(whole.usage.inputTokens).toBeGreaterThan(0);
    const streamed = streamText({ model: openai.chat('chat'), prompt, maxRetries: 0 });
    let text = '';
    for await (const piece of streamed.textStream) text += piece;
    expect(text).toBe(whole.text);
    expect((await streamed.response).modelId).toBe('chat');
  });

  it('streamText with logprobs gets every token of the answer', async () => {
    gateway = await startGateway({ models });
    const openai = providerFor(gateway);
    const streamed = streamText({ model: openai.chat('chat'), prompt, maxRetries: 0, providerOptions: { openai: { logprobs: 2 } } });
    let text = '';
    for await (const piece of streamed.textStream) text += piece;
    const logprobs = (await streamed.providerMetadata)?.openai?.logprobs as { token: string }[] | undefined;
    expect(logprobs?.length).toBeGreaterThan(3);
    expect(logprobs?.map((t) => t.token).join('')).toBe(text);
  });

  it('embed and embedMany get the upstream vectors', async () => {
    gateway = await startGateway({ models });
    const openai = providerFor(gateway);
    const one = await embed({ model: openai.embedding('embed'), value: 'A gateway routes requests.', maxRetries: 0 });
    expect(close(one.embedding, embeddingOf('A gateway routes requests.', 64))).toBe(true);
    expect(one.usage.tokens).toBeGreaterThan(0);
    const many = await embedMany({ model: openai.textEmbeddingModel('embed'), values: ['one', 'two', 'three'], maxRetries: 0 });
    expect(many.embeddings).toHaveLength(3);
    expect(close(many.embeddings[2] ?? [], embeddingOf('three', 64))).toBe(true);
  });

  it('embed gets the vector from the second deployment when the first answers 503', async () => {
    gateway = await startGateway({ models, mocks: [{ faults: { mode: 'error', status: 503 } }, {}] });
    const openai = providerFor(gateway);
    const one = await embed({ model: openai.embedding('embed'), value: 'failover', maxRetries: 0 });
    expect(close(one.embedding, embeddingOf('failover', 64))).toBe(true);
    expect(gateway.mocks.map((m) => m.stats().byRoute.embeddings)).toEqual([1, 1]);
  });
});
