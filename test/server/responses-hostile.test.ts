// Hostile and wrong Responses requests: unknown item and tool types, ids that do not exist or belong to another
// tenant, huge and deep bodies, path tricks. Each gets OpenAI's error shape with a stable code.

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let gateway: Gateway;
let alice: OpenAI;
let bob: OpenAI;
const keys = [
  { key: 'sk-alice', tenant: 'alice', role: 'user' as const },
  { key: 'sk-bob', tenant: 'bob', role: 'user' as const },
];

beforeAll(async () => {
  gateway = await startGateway({ server: { keys } });
  alice = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-alice', maxRetries: 0 });
  bob = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-bob', maxRetries: 0 });
});
afterAll(() => gateway.close());

const post = (body: unknown, key = 'sk-alice') => gateway.post('/v1/responses', body, { authorization: `Bearer ${key}` });

async function errorOf(res: Response) {
  return {
    status: res.status,
    ...((await res.json()) as { error: { code: string; param: string | null; type: string; message: string } }).error,
  };
}

describe('Responses requests that are refused', () => {
  it('an unknown input item type is 400 invalid_request naming the item', async () => {
    const res = await post({ model: 'chat', input: [{ type: 'computer_call_output', call_id: 'x', output: {} }] });
    expect(await errorOf(res)).toMatchObject({ status: 400, code: 'invalid_request', param: 'input[0].type' });
  });

  it('an item without type or role is 400, and so is an unknown role', async () => {
    expect(await errorOf(await post({ model: 'chat', input: [{ content: 'hi' }] }))).toMatchObject({ status: 400, param: 'input[0].type' });
    expect(await errorOf(await post({ model: 'chat', input: [{ role: 'root', content: 'hi' }] }))).toMatchObject({
      status: 400,
      param: 'input[0].role',
    });
  });

  it('a hosted tool (web_search) is 400 naming the tool', async () => {
    const res = await post({ model: 'chat', input: 'hi', tools: [{ type: 'web_search' }] });
    expect(await errorOf(res)).toMatchObject({ status: 400, code: 'invalid_request', param: 'tools[0].type' });
  });

  it('a previous_response_id that does not exist is 404 previous_response_not_found, as OpenAI answers', async () => {
    const err = await alice.responses.create({ model: 'chat', input: 'hi', previous_response_id: 'resp_nothere' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    const e = err as InstanceType<typeof OpenAI.NotFoundError>;
    expect(e.code).toBe('previous_response_not_found');
    expect(e.param).toBe('previous_response_id');
    expect(e.type).toBe('not_found_error');
  });

  it("another tenant's response is not there: read, delete, continue and reference are all refused", async () => {
    const mine = await alice.responses.create({ model: 'chat', input: 'a secret question' });
    const other = [
      bob.responses.retrieve(mine.id),
      bob.responses.delete(mine.id),
      bob.responses.create({ model: 'chat', input: 'hi', previous_response_id: mine.id }),
    ];
    for (const attempt of other) expect(await attempt.catch((e: unknown) => e)).toBeInstanceOf(OpenAI.NotFoundError);
    const itemId = mine.output[0]?.id ?? '';
    const reference = await post({ model: 'chat', input: [{ type: 'item_reference', id: itemId }] }, 'sk-bob');
    expect(await errorOf(reference)).toMatchObject({ status: 400, param: 'input[0].id' });
    // Still Alice's, whole.
    expect((await alice.responses.retrieve(mine.id)).output_text).toBe(mine.output_text);
  });

  it("an item_reference to one of the tenant's own stored items is resolved", async () => {
    const first = await alice.responses.create({ model: 'chat', input: 'What is a gateway?' });
    const itemId = first.output[0]?.id ?? '';
    const viaReference = await post({
      model: 'chat',
      input: [
        { role: 'user', content: 'What is a gateway?' },
        { type: 'item_reference', id: itemId },
        { role: 'user', content: 'More.' },
      ],
    });
    const viaPrevious = await alice.responses.create({ model: 'chat', previous_response_id: first.id, input: 'More.' });
    expect(viaReference.status).toBe(200);
    const body = (await viaReference.json()) as { output: { content: { text: string }[] }[] };
    expect(body.output[0]?.content[0]?.text).toBe(viaPrevious.output_text);
  });

  it('previous_response_id and conversation together are 400', async () => {
    const mine = await alice.responses.create({ model: 'chat', input: 'hi' });
    const res = await post({ model: 'chat', input: 'hi', previous_response_id: mine.id, conversation: 'conv_1' });
    expect(await errorOf(res)).toMatchObject({ status: 400, param: 'conversation' });
  });

  it('a deep input is 400 and a huge one 413, before any upstream call', async () => {
    const before = gateway.mocks[0]?.stats().requests ?? 0;
    const deep = `{"model":"chat","input":[{"role":"user","content":${'['.repeat(5000)}${']'.repeat(5000)}}]}`;
    expect((await post(deep)).status).toBe(400);
    const huge = await post({ model: 'chat', input: 'x'.repeat(5 * 1024 * 1024) });
    expect(huge.status).toBe(413);
    const many = await post({ model: 'chat', input: Array.from({ length: 10_001 }, () => ({ role: 'user', content: 'x' })) });
    expect(await errorOf(many)).toMatchObject({ status: 400, param: 'input' });
    expect(gateway.mocks[0]?.stats().requests).toBe(before);
  });

  it('ids with path tricks are 404 or 400, never another route', async () => {
    for (const path of ['/v1/responses/..%2Fmodels', '/v1/responses/%00', `/v1/responses/${'a'.repeat(300)}`]) {
      const res = await fetch(`${gateway.url}${path}`, { headers: { authorization: 'Bearer sk-alice' } });
      expect([400, 404]).toContain(res.status);
      const body = (await res.json()) as { error: { code: string } };
      expect(['response_not_found', 'invalid_request']).toContain(body.error.code);
    }
  });

  it('without a key nothing is answered', async () => {
    const res = await gateway.post('/v1/responses', { model: 'chat', input: 'hi' });
    expect(res.status).toBe(401);
  });
});
