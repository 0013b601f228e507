// LangChain (`@langchain/openai`) against the gateway: ChatOpenAI on chat completions and, with useResponsesApi,
// on the Responses API (plain, streamed, tools, structured output), and OpenAIEmbeddings, with upstream faults and failover.

import type { AIMessageChunk } from '@langchain/core/messages';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { afterEach, describe, expect, it } from 'vitest';
import { embeddingOf } from '../../src/mock/embeddings.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});
const models = { chat: 'mock-model', embed: 'mock-embed' };
const configuration = (g: Gateway) => ({ baseURL: `${g.url}/v1` });
const close = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => Math.abs(v - (b[i] ?? Number.NaN)) < 1e-6);
const question = 'What does a gateway do?';
const responsesOptions = (g: Gateway) => ({
  model: 'chat',
  apiKey: 'unused',
  configuration: configuration(g),
  maxRetries: 0,
  useResponsesApi: true,
});
const searchTool = {
  type: 'function' as const,
  function: {
    name: 'search',
    description: 'Searches the docs',
    parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
  },
};

describe('LangChain against Switchyard', () => {
  it('ChatOpenAI invokes and streams the same answer, with the logical model and the fingerprint', async () => {
    gateway = await startGateway({ models });
    const chat = new ChatOpenAI({ model: 'chat', apiKey: 'unused', configuration: configuration(gateway), maxRetries: 0 });
    const whole = await chat.invoke(question);
    expect(whole.content).toMatch(/\.$/);
    expect(whole.response_metadata.model_name).toBe('chat');
    expect(whole.response_metadata.system_fingerprint).toBe('fp_switchyard_mock');
    let text = '';
    for await (const chunk of await chat.stream(question)) text += typeof chunk.content === 'string' ? chunk.content : '';
    expect(text).toBe(whole.content);
  });

  it('ChatOpenAI streams logprobs for every token', async () => {
    gateway = await startGateway({ models });
    const chat = new ChatOpenAI({ model: 'chat', apiKey: 'unused', configuration: configuration(gateway), maxRetries: 0, logprobs: true });
    let text = '';
    const tokens: string[] = [];
    for await (const chunk of await chat.stream(question)) {
      text += typeof chunk.content === 'string' ? chunk.content : '';
      const logprobs = chunk.response_metadata.logprobs as { content?: { token: string }[] } | undefined;
      for (const t of logprobs?.content ?? []) tokens.push(t.token);
    }
    expect(tokens.length).toBeGreaterThan(3);
    expect(tokens.join('')).toBe(text);
  });

  it('OpenAIEmbeddings embeds a query and documents, failing over from a deployment answering 503', async () => {
    gateway = await startGateway({ models, mocks: [{ faults: { mode: 'error', status: 503 } }, {}] });
    const embeddings = new OpenAIEmbeddings({ model: 'embed', apiKey: 'unused', configuration: configuration(gateway), maxRetries: 0 });
    expect(close(await embeddings.embedQuery('a query'), embeddingOf('a query', 64))).toBe(true);
    const documents = await embeddings.embedDocuments(['first document', 'second document']);
    expect(close(documents[1] ?? [], embeddingOf('second document', 64))).toBe(true);
    expect(gateway.mocks[1]?.stats().byRoute.embeddings).toBeGreaterThanOrEqual(1);
  });

  it('ChatOpenAI with useResponsesApi invokes and streams the same answer over /v1/responses', async () => {
    gateway = await startGateway({ models, apis: ['responses'] });
    const chat = new ChatOpenAI({ ...responsesOptions(gateway) });
    const whole = await chat.invoke(question);
    expect(typeof whole.content === 'string' ? whole.content : whole.text).toMatch(/\.$/);
    expect(whole.usage_metadata?.input_tokens).toBeGreaterThan(0);
    let text = '';
    for await (const chunk of await chat.stream(question)) text += chunk.text;
    expect(text).toBe(whole.text);
    expect(gateway.mocks[0]?.stats().byRoute).toMatchObject({ responses: 2, chat: 0 });
  });

  it('ChatOpenAI with useResponsesApi calls a bound tool, streamed and not, on a chat deployment', async () => {
    gateway = await startGateway({ models });
    const chat = new ChatOpenAI({ ...responsesOptions(gateway) }).bindTools([searchTool]);
    const whole = await chat.invoke(question);
    expect(whole.tool_calls?.map((c) => c.name)).toEqual(['search']);
    expect(whole.tool_calls?.[0]?.args).toHaveProperty('query');
    let streamed: AIMessageChunk | undefined;
    for await (const chunk of await chat.stream(question)) streamed = streamed ? streamed.concat(chunk) : chunk;
    expect(streamed?.tool_calls?.[0]?.args).toEqual(whole.tool_calls?.[0]?.args);
  });

  it('ChatOpenAI with useResponsesApi gets structured output through text.format', async () => {
    gateway = await startGateway({ models, apis: ['responses'] });
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    const chat = new ChatOpenAI({ ...responsesOptions(gateway) }).withStructuredOutput(schema, { name: 'answer', method: 'jsonSchema' });
    const result = (await chat.invoke(question)) as { answer?: unknown };
    expect(typeof result.answer).toBe('string');
  });

  it('ChatOpenAI with useResponsesApi fails over from a deployment answering 503', async () => {
    gateway = await startGateway({ models, apis: ['responses', 'chat'], mocks: [{ faults: { mode: 'error', status: 503 } }, {}] });
    const chat = new ChatOpenAI({ ...responsesOptions(gateway) });
    expect((await chat.invoke(question)).text).toMatch(/\.$/);
    expect(gateway.mocks.map((m) => m.stats().requests)).toEqual([1, 1]);
  });
});
