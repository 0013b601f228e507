// POST /v1/embeddings through the provider actors: the openai SDK as client, the mock upstream's deterministic
// vectors, failover between deployments, and what a hostile client may send.

import { BadRequestError, NotFoundError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { embeddingOf } from '../../src/mock/embeddings.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});
const embedModels = { embed: 'mock-embed' };

interface EmbeddingsAnswer {
  model: string;
  data: { index: number; embedding: number[] | string }[];
  usage: { prompt_tokens: number; total_tokens: number };
  switchyard: { deployments: string[]; attempts: { deployment: string; outcome: string }[] };
  error?: { code: string; param: string | null };
}

const close = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => Math.abs(v - (b[i] ?? Number.NaN)) < 1e-6);

describe('POST /v1/embeddings', () => {
  it("gives the openai SDK the upstream's vector, with the logical model and usage", async () => {
    gateway = await startGateway({ models: embedModels });
    const answer = await gateway.client.embeddings.create({ model: 'embed', input: 'A gateway routes requests.' });
    expect(answer.model).toBe('embed');
    // The SDK asks for base64 and decodes it: the format passed through both ways.
    expect(close(answer.data[0]?.embedding ?? [], embeddingOf('A gateway routes requests.', 64))).toBe(true);
    expect(answer.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('passes dimensions and encoding_format through, for many texts and for token arrays', async () => {
    gateway = await startGateway({ models: embedModels });
    const texts = await gateway.post('/v1/embeddings', { model: 'embed', input: ['one', 'two'], dimensions: 8, encoding_format: 'float' });
    const body = (await texts.json()) as EmbeddingsAnswer;
    expect(body.data.map((d) => d.index)).toEqual([0, 1]);
    expect(close(body.data[1]?.embedding as number[], embeddingOf('two', 8))).toBe(true);
    const ids = await gateway.post('/v1/embeddings', { model: 'embed', input: [[1, 2, 3], [4]], encoding_format: 'base64' });
    const encoded = (await ids.json()) as EmbeddingsAnswer;
    expect(typeof encoded.data[0]?.embedding).toBe('string');
    expect(encoded.data).toHaveLength(2);
  });

  it('fails over to the next deployment when one answers 503, and says which served', async () => {
    gateway = await startGateway({ models: embedModels, mocks: [{ faults: { mode: 'error', status: 503 } }, {}] });
    const res = await gateway.post('/v1/embeddings', { model: 'embed', input: 'failover', encoding_format: 'float' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-deployment')).toBe('p1/mock-embed');
    const body = (await res.json()) as EmbeddingsAnswer;
    expect(close(body.data[0]?.embedding as number[], embeddingOf('failover', 64))).toBe(true);
    expect(body.switchyard.attempts.map((a) => [a.deployment, a.outcome])).toEqual([
      ['p0/mock-embed', 'provider_unavailable'],
      ['p1/mock-embed', 'ok'],
    ]);
    // The failure counts against p0's health, its usage for p1.
    const views = gateway.runtime.providers();
    expect(views.find((v) => v.id === 'p0/mock-embed')?.metrics.failures).toBe(1);
    expect(views.find((v) => v.id === 'p1/mock-embed')?.metrics.successes).toBe(1);
  });

  it('answers as chat does when every deployment fails: the error contract, Retry-After and attempts', async () => {
    const down = { faults: { mode: 'error' as const, status: 503, retryAfterSeconds: 2 } };
    // The error-contract test's setup for chat: two attempts, one per deployment.
    gateway = await startGateway({ models: embedModels, mocks: [down, down], config: { routing: { maxAttempts: 2 } } });
    const res = await gateway.post('/v1/embeddings', { model: 'embed', input: 'x' });
    expect(res.status).toBe(502);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    const body = (await res.json()) as EmbeddingsAnswer;
    expect(body.error?.code).toBe('provider_unavailable');
  });

  it('does not count a 400 from the upstream against its health, nor fail over', async () => {
    gateway = await startGateway({ models: embedModels, mocks: [{ faults: { mode: 'error', status: 400 } }, {}] });
    const res = await gateway.post('/v1/embeddings', { model: 'embed', input: 'x' });
    expect(res.status).toBe(400);
    expect(gateway.mocks[1]?.stats().requests).toBe(0);
    expect(gateway.runtime.providers().find((v) => v.id === 'p0/mock-embed')?.health).toBe('healthy');
  });

  it('is reachable from the runtime without HTTP', async () => {
    gateway = await startGateway({ models: embedModels });
    const { embeddings, route } = await gateway.runtime.embeddings({ model: 'embed', input: 'direct', dimensions: 4 });
    expect(embeddings.data[0]?.embedding).toHaveLength(4);
    expect(route.deployments).toEqual(['p0/mock-embed']);
  });

  it('answers 404 model_not_found for a model not served', async () => {
    gateway = await startGateway({ models: embedModels });
    const err = await gateway.client.embeddings.create({ model: 'nope', input: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).code).toBe('model_not_found');
  });

  it.each([
    ['more inputs than OpenAI allows', Array.from({ length: 2049 }, (_, i) => `t${i}`)],
    ['numbers mixed with texts', ['a', 1]],
    ['objects', [{ text: 'a' }]],
    ['an empty string', ''],
    ['an empty list', []],
    ['negative token ids', [[-1]]],
    ['nested deeper than token arrays', [[[1]]]],
    ['null', null],
  ])('refuses %s with 400 before any upstream call', async (_, input) => {
    gateway = await startGateway({ models: embedModels });
    const res = await gateway.post('/v1/embeddings', { model: 'embed', input });
    expect(res.status).toBe(400);
    expect(((await res.json()) as EmbeddingsAnswer).error?.param).toBe('input');
    expect(gateway.mocks[0]?.stats().requests).toBe(0);
  });

  it('refuses a bad encoding_format and dimensions through the SDK as BadRequestError', async () => {
    gateway = await startGateway({ models: embedModels });
    const bad = gateway.client.embeddings.create({ model: 'embed', input: 'x', dimensions: 0 });
    await expect(bad).rejects.toBeInstanceOf(BadRequestError);
    const res = await gateway.post('/v1/embeddings', { model: 'embed', input: 'x', encoding_format: 'int8' });
    expect(((await res.json()) as EmbeddingsAnswer).error?.param).toBe('encoding_format');
  });

  it('needs a key when keys are set: 401 without one, 200 with a user key', async () => {
    gateway = await startGateway({ models: embedModels, server: { apiKeys: ['sk-user-1'] } });
    const anonymous = await gateway.post('/v1/embeddings', { model: 'embed', input: 'x' });
    expect(anonymous.status).toBe(401);
    const user = await gateway.post('/v1/embeddings', { model: 'embed', input: 'x' }, { authorization: 'Bearer sk-user-1' });
    expect(user.status).toBe(200);
  });
});
