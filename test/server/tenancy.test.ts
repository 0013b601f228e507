// Keys with tenants and roles: a user reaches chat, models and its own tenant's conversations; another
// tenant's conversation does not exist for it; operator routes need an admin key.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { rawRequest } from '../helpers/raw.ts';

const alice = 'sk-alice-0123456789abcdef';
const bob = 'sk-bob-0123456789abcdef';
const admin = 'sk-admin-0123456789abcdef';
let g: Gateway;

beforeAll(async () => {
  g = await startGateway({ mocks: [{}], server: { apiKeys: [alice, bob], adminKeys: [admin] } });
});
afterAll(async () => {
  await g?.close();
});

const as = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
const json = (key: string) => as(key, { 'content-type': 'application/json' });
const get = (path: string, key?: string) => fetch(`${g.url}${path}`, key === undefined ? {} : { headers: as(key) });

async function createAs(key: string): Promise<string> {
  const res = await g.post('/v1/conversations', { model: 'chat', system: 'ALICE-SECRET' }, as(key));
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

describe('tenancy', () => {
  it("answers another tenant's conversation exactly like one that does not exist, on every route", async () => {
    const id = await createAs(alice);
    const turn = await g.post(`/v1/conversations/${id}/messages`, { content: 'ALICE-QUESTION' }, as(alice, { 'idempotency-key': 'k1' }));
    expect(turn.status).toBe(200);
    const missing = '00000000-0000-4000-8000-000000000000';
    const attempts = (target: string) => [
      () => get(`/v1/conversations/${target}`, bob),
      () => g.post(`/v1/conversations/${target}/messages`, { content: 'hi' }, as(bob)),
      // The same idempotency key as alice's turn: must not replay her reply.
      () => g.post(`/v1/conversations/${target}/messages`, { content: 'hi' }, as(bob, { 'idempotency-key': 'k1' })),
      () => g.post(`/v1/conversations/${target}/messages`, { content: 'hi', stream: true }, as(bob)),
      () =>
        g.post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'hi' }], conversation_id: target }, as(bob)),
      () =>
        g.post(
          '/v1/chat/completions',
          { model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true },
          as(bob, { 'x-conversation-id': target }),
        ),
      () => fetch(`${g.url}/v1/conversations/${target}`, { method: 'DELETE', headers: json(bob) }),
    ];
    const theirs = attempts(id);
    const none = attempts(missing);
    for (const [i, attempt] of theirs.entries()) {
      const res = await attempt();
      const body = await res.text();
      expect({ i, status: res.status }).toEqual({ i, status: 404 });
      expect(body).not.toContain('ALICE');
      const reference = await none[i]?.();
      // Same status and same body but the id: nothing tells an existing conversation from a missing one.
      expect(body.replaceAll(id, 'ID')).toBe((await reference?.text())?.replaceAll(missing, 'ID'));
    }
    // Alice's conversation is untouched and still hers.
    const view = ((await (await get(`/v1/conversations/${id}`, alice)).json()) as { switchyard: { system: string; messages: unknown[] } })
      .switchyard;
    expect(view.system).toBe('ALICE-SECRET');
    expect(view.messages).toHaveLength(2);
  });

  it("lets a tenant's key use its own conversations, and an admin reach every tenant's", async () => {
    const id = await createAs(bob);
    expect((await g.post(`/v1/conversations/${id}/messages`, { content: 'mine' }, as(bob))).status).toBe(200);
    expect((await get(`/v1/conversations/${id}`, admin)).status).toBe(200);
    expect(g.runtime.conversations.list({ tenant: 'nobody' })).toEqual([]);
    expect(g.runtime.conversations.list().some((c) => c.id === id)).toBe(true);
    const deleted = await fetch(`${g.url}/v1/conversations/${id}`, { method: 'DELETE', headers: json(bob) });
    expect(await deleted.json()).toEqual({ id, object: 'conversation.deleted', deleted: true });
  });
});

describe('roles', () => {
  const operatorRoutes = [
    ['GET', '/v1/providers'],
    ['POST', `/v1/providers/${encodeURIComponent('p0/mock-model')}/disable`],
    ['POST', `/v1/providers/${encodeURIComponent('p0/mock-model')}/enable`],
    ['GET', '/metrics'],
    ['GET', '/inspect'],
    ['GET', '/inspect/state'],
    ['GET', '/inspect/machines'],
    ['GET', '/inspect/events'],
  ] as const;

  it('answers operator routes 401 without a key and 403 forbidden with a user key', async () => {
    for (const [method, path] of operatorRoutes) {
      const body = method === 'POST' ? '{}' : undefined;
      const base = { method, path, ...(body ? { body } : {}) };
      const anonymous = await rawRequest(g.url, { ...base, headers: body ? { 'content-type': 'application/json' } : {} });
      expect({ path, status: anonymous.status }).toEqual({ path, status: 401 });
      const user = await rawRequest(g.url, { ...base, headers: body ? json(alice) : as(alice) });
      expect({ path, status: user.status }).toEqual({ path, status: 403 });
      expect(JSON.parse(user.body)).toMatchObject({ error: { code: 'forbidden', type: 'permission_error' } });
    }
    expect(g.runtime.providers()[0]?.health).toBe('healthy');
  });

  it('serves operator routes to an admin key, and chat and models to a user key', async () => {
    expect((await get('/v1/providers', admin)).status).toBe(200);
    expect((await get('/metrics', admin)).status).toBe(200);
    expect((await get('/inspect/state', admin)).status).toBe(200);
    const conversations = (await (await get('/inspect/conversations', admin)).json()) as { items: unknown[] };
    expect(Array.isArray(conversations.items)).toBe(true);
    expect((await get('/v1/models', alice)).status).toBe(200);
    expect((await fetch(`${g.url}/v1/models`, { headers: { authorization: `bearer ${alice}` } })).status).toBe(200);
    expect((await fetch(`${g.url}/v1/models`, { headers: { authorization: `Bearer ${alice.toUpperCase()}` } })).status).toBe(401);
    const chat = await g.post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, as(alice));
    expect(chat.status).toBe(200);
  });

  it('takes ?key= only on the inspector page and its event stream', async () => {
    expect((await get(`/v1/models?x=/inspect&key=${alice}`)).status).toBe(401);
    expect((await get(`/v1/providers?x=/inspect/events&key=${admin}`)).status).toBe(401);
    expect((await get(`/inspect/state?key=${admin}`)).status).toBe(401);
    expect((await get(`/inspect/events?key=${alice}`)).status).toBe(403);
    expect((await get(`/inspect?key=${admin}`)).status).toBe(200);
    const controller = new AbortController();
    const events = await fetch(`${g.url}/inspect/events?key=${admin}`, { signal: controller.signal });
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toBe('text/event-stream');
    controller.abort();
  });
});
