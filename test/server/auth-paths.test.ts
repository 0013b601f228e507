// Authentication is decided on the route the router matched, never on the raw URL: every route, sent with the
// path tricks that made a string test on the URL say "health endpoint", is refused without a key.

import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { switchyardPlugin } from '../../src/server/index.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { rawRequest } from '../helpers/raw.ts';

const key = 'sk-path-test-key-0123456789';
let g: Gateway;
let conversation: string;
const deployment = encodeURIComponent('p0/mock-model');

beforeAll(async () => {
  g = await startGateway({
    mocks: [{}],
    server: { apiKeys: [key], demo: [{ name: 'p0', break: () => {}, heal: () => {} }] },
  });
  const res = await g.post('/v1/conversations', { model: 'chat', system: 'SECRET-SYSTEM-PROMPT' }, { authorization: `Bearer ${key}` });
  conversation = ((await res.json()) as { id: string }).id;
});
afterAll(async () => {
  await g?.close();
});

const chat = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
/** Every protected route with a body that would succeed if it were let through. */
const routes = () => [
  { method: 'GET', path: '/v1/models' },
  { method: 'POST', path: '/v1/chat/completions', body: chat },
  { method: 'POST', path: '/v1/conversations', body: JSON.stringify({ model: 'chat' }) },
  { method: 'GET', path: `/v1/conversations/${conversation}` },
  { method: 'DELETE', path: `/v1/conversations/${conversation}` },
  { method: 'POST', path: `/v1/conversations/${conversation}/messages`, body: JSON.stringify({ content: 'hi' }) },
  { method: 'POST', path: `/v1/conversations/${conversation}`, body: JSON.stringify({ metadata: { a: 'b' } }) },
  { method: 'GET', path: `/v1/conversations/${conversation}/items` },
  { method: 'POST', path: `/v1/conversations/${conversation}/items`, body: JSON.stringify({ items: [{ role: 'user', content: 'hi' }] }) },
  { method: 'GET', path: `/v1/conversations/${conversation}/items/msg_seq0` },
  { method: 'DELETE', path: `/v1/conversations/${conversation}/items/msg_seq0` },
  { method: 'GET', path: '/v1/providers' },
  { method: 'POST', path: `/v1/providers/${deployment}/disable`, body: '{}' },
  { method: 'POST', path: `/v1/providers/${deployment}/enable`, body: '{}' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/inspect' },
  { method: 'GET', path: '/inspect/state' },
  { method: 'GET', path: '/inspect/machines' },
  { method: 'GET', path: '/inspect/demo' },
  { method: 'GET', path: '/inspect/events' },
  { method: 'POST', path: '/inspect/demo/p0/break', body: '{}' },
];

/** The path tricks of the review: fragment, query, matrix, encoded slash, double slash, dot segment, slash, case, absolute form. */
function variants(path: string): string[] {
  return [
    path,
    `${path}#/healthz`,
    `${path}#/readyz`,
    `${path}?/healthz`,
    `${path}?x=/readyz`,
    `${path};/healthz`,
    `${path}%2Fhealthz`,
    `${path}%2F..%2F..%2Fhealthz`,
    `/${path}`,
    `${path}//healthz`,
    `/.${path}`,
    `${path}/./healthz`,
    `${path}/`,
    `${path}/healthz`,
    path.toUpperCase(),
    `${path}/HEALTHZ`,
    `/healthz/..${path}`,
    `/healthz%2F..${path}`,
    `/readyz;${path}`,
    // The absolute form of a request target, as proxies send it.
    `http://127.0.0.1${path}`,
    `http://127.0.0.1/healthz/..${path}`,
  ];
}

describe('authentication on the parsed path', () => {
  it('refuses every route with every path variant without a key, and leaks nothing', async () => {
    const mockCalls = g.mocks[0]?.stats().requests;
    for (const route of routes()) {
      for (const path of variants(route.path)) {
        const headers: Record<string, string> = route.body === undefined ? {} : { 'content-type': 'application/json' };
        const res = await rawRequest(g.url, { method: route.method, path, headers, ...(route.body ? { body: route.body } : {}) });
        expect({ route: `${route.method} ${path}`, status: res.status }).toEqual({ route: `${route.method} ${path}`, status: 401 });
        expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'invalid_api_key' } });
        expect(res.body).not.toContain(conversation);
        expect(res.body).not.toContain('SECRET');
      }
    }
    // An absolute form with a fragment is refused by fastify itself (FST_ERR_BAD_URL) before any route runs.
    for (const route of routes()) {
      const res = await rawRequest(g.url, { method: route.method, path: `http://127.0.0.1${route.path}#/healthz` });
      expect([400, 401]).toContain(res.status);
      expect(res.body).not.toContain('SECRET');
    }
    // Nothing ran: no upstream call, the conversation is there, the deployment still healthy.
    expect(g.mocks[0]?.stats().requests).toBe(mockCalls);
    expect((await g.runtime.conversations.get(conversation)).system).toBe('SECRET-SYSTEM-PROMPT');
    expect(g.runtime.providers()[0]?.health).toBe('healthy');
  });

  it('keeps exactly GET and HEAD /healthz and /readyz open', async () => {
    for (const path of ['/healthz', '/readyz', '/healthz?probe=1', '/readyz#x']) {
      for (const method of ['GET', 'HEAD']) expect((await rawRequest(g.url, { method, path })).status).toBe(200);
    }
    expect((await rawRequest(g.url, { method: 'GET', path: '/healthz' })).body).toBe('{"status":"ok"}');
    expect((await rawRequest(g.url, { method: 'POST', path: '/healthz', body: '{}' })).status).toBe(401);
  });
});

describe('authentication under a plugin prefix', () => {
  it('opens only the prefixed health routes, and never by a suffix', async () => {
    const app = Fastify();
    await app.register(switchyardPlugin, { runtime: g.runtime, prefix: '/llm', apiKeys: [key], inspector: false, metrics: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = app.server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      expect((await rawRequest(url, { method: 'GET', path: '/llm/healthz' })).status).toBe(200);
      for (const path of ['/llm/v1/models#/healthz', '/llm/v1/providers#/llm/readyz', `/llm/v1/conversations/${conversation}#/healthz`]) {
        expect((await rawRequest(url, { method: 'GET', path })).status).toBe(401);
      }
      const ok = await rawRequest(url, { method: 'GET', path: '/llm/v1/models', headers: { authorization: `Bearer ${key}` } });
      expect(ok.status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
