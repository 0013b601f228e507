// GET /v1/models/{id} in OpenAI's shape, and a 404 naming the route (never the model) for OpenAI routes the
// gateway does not serve.

import { NotFoundError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

interface ErrorBody {
  error: { code: string; type: string; message: string; param: string | null };
}

describe('GET /v1/models/{id}', () => {
  it('answers OpenAI model object of a logical model to the SDK', async () => {
    gateway = await startGateway({ models: { chat: 'mock-model', 'team/embed': 'mock-embed' } });
    expect(await gateway.client.models.retrieve('chat')).toEqual({ id: 'chat', object: 'model', created: 0, owned_by: 'switchyard' });
    // The SDK encodes the slash: the id arrives whole.
    expect((await gateway.client.models.retrieve('team/embed')).id).toBe('team/embed');
  });

  it('answers 404 model_not_found in OpenAI error shape for a model not served', async () => {
    gateway = await startGateway();
    const err = await gateway.client.models.retrieve('gpt-9').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).code).toBe('model_not_found');
    expect((err as NotFoundError).param).toBe('model');
  });

  it('refuses path tricks and oversized ids without reaching another route', async () => {
    gateway = await startGateway();
    const dots = (await (await fetch(`${gateway.url}/v1/models/%2E%2E%2Fproviders`)).json()) as ErrorBody;
    expect(dots.error.code).toBe('model_not_found');
    const long = await fetch(`${gateway.url}/v1/models/${'m'.repeat(300)}`);
    expect(long.status).toBe(400);
    expect(((await long.json()) as ErrorBody).error.param).toBe('id');
  });

  it('needs a user key when keys are set', async () => {
    gateway = await startGateway({ server: { apiKeys: ['sk-user-1'] } });
    expect((await fetch(`${gateway.url}/v1/models/chat`)).status).toBe(401);
    const ok = await fetch(`${gateway.url}/v1/models/chat`, { headers: { authorization: 'Bearer sk-user-1' } });
    expect(ok.status).toBe(200);
  });
});

describe('routes the gateway does not serve', () => {
  it.each([
    ['POST', '/v1/images/generations'],
    ['POST', '/v1/completions'],
    ['POST', '/v1/audio/speech'],
    ['GET', '/v1/files'],
  ])('answers %s %s with 404 unsupported_route naming the route', async (method, path) => {
    gateway = await startGateway();
    const res = await fetch(`${gateway.url}${path}`, {
      method,
      ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{"model":"chat"}' } : {}),
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('unsupported_route');
    expect(body.error.type).toBe('not_found_error');
    expect(body.error.message).toContain(`${method} ${path}`);
    expect(body.error.message).not.toMatch(/model/i);
  });

  it('echoes at most 200 characters of a huge path', async () => {
    gateway = await startGateway();
    const body = (await (await fetch(`${gateway.url}/v1/${'x'.repeat(5000)}`)).json()) as ErrorBody;
    expect(body.error.code).toBe('unsupported_route');
    expect(body.error.message.length).toBeLessThan(300);
  });

  it('is what the openai SDK raises for the legacy completions API', async () => {
    gateway = await startGateway();
    const err = await gateway.client.completions.create({ model: 'chat', prompt: 'Hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).code).toBe('unsupported_route');
  });
});
