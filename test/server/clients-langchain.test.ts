// LangChain (`@langchain/openai`) against the gateway: ChatOpenAI on chat completions (not useResponsesApi: the
// Responses API is not served yet, docs/api.md) and OpenAIEmbeddings, with an upstream fault and failover.

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

  // Until the Responses API is served (a later session): then this becomes a test of useResponsesApi.
  it('reports a route the gateway does not serve with the route in the message', async () => {
    gateway = await startGateway({ models });
    const chat = new ChatOpenAI({
      model: 'chat',
      apiKey: 'unused',
      configuration: configuration(gateway),
      maxRetries: 0,
      useResponsesApi: true,
    });
    const err = await chat.invoke(question).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('does not serve POST /v1/responses');
  });
});
