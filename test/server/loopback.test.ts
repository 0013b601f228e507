// A server without keys answers only to a loopback Host, and takes no state change a browser could send
// cross-origin without a preflight.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../src/server/loopback.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { rawRequest } from '../helpers/raw.ts';

let g: Gateway;
let conversation: string;
const disable = `/v1/providers/${encodeURIComponent('p0/mock-model')}/disable`;

beforeAll(async () => {
  g = await startGateway({ mocks: [{}] });
  conversation = ((await (await g.post('/v1/conversations', { model: 'chat' })).json()) as { id: string }).id;
});
afterAll(async () => {
  await g?.close();
});

describe('keyless loopback mode', () => {
  it('answers 421 misdirected_request to a Host that is not loopback (DNS rebinding)', async () => {
    const port = new URL(g.url).port;
    for (const host of [`evil.example:${port}`, `127.0.0.1.evil.example:${port}`, 'localhost.evil.example', '10.0.0.1']) {
      for (const path of ['/inspect/state', `/v1/conversations/${conversation}`, '/v1/providers', '/healthz']) {
        const res = await rawRequest(g.url, { method: 'GET', path, headers: { host } });
        expect({ host, path, status: res.status }).toEqual({ host, path, status: 421 });
        expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'misdirected_request' } });
        expect(res.body).not.toContain(conversation);
      }
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'LOCALHOST', '127.0.0.2']) {
      expect((await rawRequest(g.url, { method: 'GET', path: '/inspect/state', headers: { host } })).status).toBe(200);
    }
  });

  it('refuses a bodiless cross-origin POST that would disable a deployment, and any non-JSON POST', async () => {
    const origin = { origin: 'https://evil.example' };
    // What fetch(url, { method: 'POST', mode: 'no-cors' }) and a form post send.
    const simple = [
      { method: 'POST', path: disable, headers: origin },
      { method: 'POST', path: disable, headers: { ...origin, 'content-type': 'text/plain' }, body: '{}' },
      { method: 'POST', path: disable, headers: { ...origin, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' },
      { method: 'POST', path: '/v1/conversations', headers: { ...origin, 'content-type': 'text/plain' }, body: '{"model":"chat"}' },
    ];
    for (const request of simple) {
      const res = await rawRequest(g.url, request);
      expect({ request, status: res.status }).toEqual({ request, status: 415 });
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'unsupported_media_type' } });
    }
    expect(g.runtime.providers()[0]?.health).toBe('healthy');
    expect((await g.runtime.conversations.get(conversation)).id).toBe(conversation);
    // A JSON request (which a browser must preflight cross-origin) still works.
    const ok = await rawRequest(g.url, { method: 'POST', path: disable, headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(ok.status).toBe(200);
    expect(g.runtime.providers()[0]?.health).toBe('disabled');
    // A DELETE is never a simple request (a browser preflights it cross-origin): bodiless, as the openai SDK sends it.
    const deleted = await rawRequest(g.url, { method: 'DELETE', path: `/v1/conversations/${conversation}`, headers: {} });
    expect(deleted.status).toBe(200);
  });

  it('names loopback hosts exactly', () => {
    expect(['localhost', 'a.localhost:1', '127.0.0.1', '127.1', '[::1]:80'].map(isLoopbackHost)).toEqual([true, true, true, true, true]);
    expect(['localhost.evil', '128.0.0.1', '::1', '[::2]', 'user@127.0.0.1.evil', undefined].map(isLoopbackHost)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
