// Hostile input on OpenAI's Conversations API: another tenant's conversation and item ids, metadata beyond
// OpenAI's limits, item ids that try path tricks, and an item deleted while a turn runs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { rawRequest } from '../helpers/raw.ts';
import { pollUntil } from '../helpers/wait.ts';

const alice = 'sk-alice-0123456789abcdef';
const bob = 'sk-bob-0123456789abcdef';
let g: Gateway;

beforeAll(async () => {
  g = await startGateway({ mocks: [{ chunkDelayMs: 30 }], server: { apiKeys: [alice, bob] } });
});
afterAll(async () => {
  await g?.close();
});

const as = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
const call = (method: string, path: string, key: string, body?: unknown) =>
  fetch(`${g.url}${path}`, { method, headers: as(key), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const errorOf = async (res: Response) => ({
  status: res.status,
  ...((await res.json()) as { error: { code: string; param: string | null } }).error,
});

async function createWithItem(key: string) {
  const res = await call('POST', '/v1/conversations', key, {
    items: [{ role: 'user', content: 'ALICE-SECRET' }],
    metadata: { owner: 'ALICE' },
  });
  expect(res.status).toBe(200);
  const { id } = (await res.json()) as { id: string };
  const items = (await (await call('GET', `/v1/conversations/${id}/items`, key)).json()) as { data: { id: string }[] };
  return { id, itemId: items.data[0]?.id ?? '' };
}

describe('the Conversations API under hostile input', () => {
  it("answers another tenant's conversation and item ids exactly like missing ones, on every route", async () => {
    const theirs = await createWithItem(alice);
    const missing = { id: 'conv_0000', itemId: 'msg_0000' };
    const attempts = ({ id, itemId }: { id: string; itemId: string }) => [
      () => call('GET', `/v1/conversations/${id}`, bob),
      () => call('POST', `/v1/conversations/${id}`, bob, { metadata: { owner: 'BOB' } }),
      () => call('DELETE', `/v1/conversations/${id}`, bob),
      () => call('GET', `/v1/conversations/${id}/items`, bob),
      () => call('GET', `/v1/conversations/${id}/items?after=${itemId}`, bob),
      () => call('POST', `/v1/conversations/${id}/items`, bob, { items: [{ role: 'user', content: 'BOB' }] }),
      () => call('GET', `/v1/conversations/${id}/items/${itemId}`, bob),
      () => call('DELETE', `/v1/conversations/${id}/items/${itemId}`, bob),
    ];
    const none = attempts(missing);
    for (const [i, attempt] of attempts(theirs).entries()) {
      const res = await attempt();
      const body = await res.text();
      expect({ i, status: res.status }).toEqual({ i, status: 404 });
      expect(body).not.toContain('ALICE');
      const reference = await none[i]?.();
      expect(body.replaceAll(theirs.id, 'ID')).toBe((await reference?.text())?.replaceAll(missing.id, 'ID'));
    }
    // Untouched, and still hers.
    const view = (await (await call('GET', `/v1/conversations/${theirs.id}/items`, alice)).json()) as { data: unknown[] };
    expect(view.data).toHaveLength(1);
    expect(((await (await call('GET', `/v1/conversations/${theirs.id}`, alice)).json()) as { metadata: unknown }).metadata).toEqual({
      owner: 'ALICE',
    });
  });

  it('does not find an item of one conversation through another of the same tenant', async () => {
    const a = await createWithItem(alice);
    const b = await createWithItem(alice);
    expect(await errorOf(await call('GET', `/v1/conversations/${b.id}/items/${a.itemId}`, alice))).toMatchObject({
      status: 404,
      code: 'conversation_item_not_found',
    });
    expect((await call('DELETE', `/v1/conversations/${b.id}/items/${a.itemId}`, alice)).status).toBe(404);
    expect((await call('GET', `/v1/conversations/${a.id}/items/${a.itemId}`, alice)).status).toBe(200);
  });

  it("refuses metadata beyond OpenAI's limits (16 keys, 64-character keys, 512-character values) with 400 invalid_request on metadata", async () => {
    const { id } = await createWithItem(alice);
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    const huge = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, 'v']));
    for (const metadata of [tooMany, huge, { ['k'.repeat(65)]: 'v' }, { k: 'v'.repeat(513) }, { k: 1 }, ['a']]) {
      for (const res of [
        await call('POST', '/v1/conversations', alice, { metadata }),
        await call('POST', `/v1/conversations/${id}`, alice, { metadata }),
      ]) {
        expect(await errorOf(res)).toMatchObject({ status: 400, code: 'invalid_request', param: 'metadata' });
      }
    }
    // At the limits exactly, it is taken.
    const full = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`${i}`.padEnd(64, 'k'), 'v'.repeat(512)]));
    expect((await call('POST', `/v1/conversations/${id}`, alice, { metadata: full })).status).toBe(200);
  });

  it('answers item ids that try path tricks with 4xx, never reaching another item or conversation', async () => {
    const { id, itemId } = await createWithItem(alice);
    const tricks = [
      '..',
      '..%2F..%2Fv1%2Fproviders',
      `${itemId}%2F..`,
      `${itemId}%00`,
      '%2e%2e',
      'x'.repeat(129),
      `${itemId}%20`,
      encodeURIComponent(`../${itemId}`),
    ];
    for (const trick of tricks) {
      for (const method of ['GET', 'DELETE']) {
        const res = await rawRequest(g.url, { method, path: `/v1/conversations/${id}/items/${trick}`, headers: as(alice) });
        expect({ trick, method, ok: res.status >= 400 && res.status < 500 }).toEqual({ trick, method, ok: true });
      }
    }
    expect((await call('GET', `/v1/conversations/${id}/items/${itemId}`, alice)).status).toBe(200);
  });

  it('refuses to delete an item while a turn runs (409 conversation_busy), and deletes it after', async () => {
    const { id, itemId } = await createWithItem(alice);
    // The upstream holds its answer long enough that the turn is still running when the delete arrives.
    g.mocks[0]?.setFaults({ latencyMs: 1500 });
    const turn = call('POST', `/v1/conversations/${id}/messages`, alice, { content: 'a long answer please' });
    await pollUntil(
      async () => g.runtime.conversations.live(id)?.state,
      (state) => state === 'awaitingReply',
    );
    expect(await errorOf(await call('DELETE', `/v1/conversations/${id}/items/${itemId}`, alice))).toMatchObject({
      status: 409,
      code: 'conversation_busy',
    });
    expect((await turn).status).toBe(200);
    g.mocks[0]?.heal();
    expect((await call('DELETE', `/v1/conversations/${id}/items/${itemId}`, alice)).status).toBe(200);
    const items = (await (await call('GET', `/v1/conversations/${id}/items?order=asc`, alice)).json()) as {
      data: { type: string; role: string }[];
    };
    expect(items.data.map((i) => i.role)).toEqual(['user', 'assistant']);
  });

  it('refuses more than 20 items at once and content that is not text, storing nothing', async () => {
    const { id } = await createWithItem(alice);
    const many = Array.from({ length: 21 }, () => ({ role: 'user', content: 'x' }));
    expect((await call('POST', `/v1/conversations/${id}/items`, alice, { items: many })).status).toBe(400);
    const image = [{ role: 'user', content: [{ type: 'input_image', image_url: 'http://x' }] }];
    expect(await errorOf(await call('POST', `/v1/conversations/${id}/items`, alice, { items: image }))).toMatchObject({
      status: 400,
      code: 'invalid_request',
      param: 'items[0].content[0]',
    });
    expect(
      await errorOf(await call('POST', `/v1/conversations/${id}/items`, alice, { items: [{ type: 'function_call', name: 'f' }] })),
    ).toMatchObject({
      status: 400,
      param: 'items[0].call_id',
    });
    const items = (await (await call('GET', `/v1/conversations/${id}/items`, alice)).json()) as { data: unknown[] };
    expect(items.data).toHaveLength(1);
  });
});
