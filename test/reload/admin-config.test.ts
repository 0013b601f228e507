// PUT and GET /admin/config over a real server and mock upstreams: admin keys only, secrets masked (and kept when
// sent back masked), a rejected config answers 400 naming the field and changes nothing, hostile bodies are
// refused, and a config that removes every deployment of a model in use lets its stream finish.

import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { pollUntil } from '../helpers/wait.ts';

const admin = 'admin-key-0123456789';
const user = 'user-key-0123456789';
const upstreamKey = 'sk-upstream-secret-42';
let gw: Gateway;
afterEach(async () => gw?.close());

const configOf = (urls: string[], extra: Partial<SwitchyardConfigInput> = {}): SwitchyardConfigInput => ({
  providers: urls.map((url, i) => ({ id: `p${i}`, baseURL: url, apiKey: upstreamKey, models: { chat: 'mock-model' } })),
  routing: { deadlineMs: 10_000 },
  ...extra,
});

async function start(mocks = 1) {
  gw = await startGateway({
    mocks: Array.from({ length: mocks }, () => ({ apiKey: upstreamKey, chunkDelayMs: 20 })),
    server: { apiKeys: [user], adminKeys: [admin] },
  });
  const config = configOf(gw.mocks.map((m) => m.url));
  await put(config);
  return config;
}

const put = (body: unknown, key = admin, raw = false) =>
  fetch(`${gw.url}/admin/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: raw ? (body as string) : JSON.stringify(body),
  });
const getConfig = (key = admin) => fetch(`${gw.url}/admin/config`, { headers: { authorization: `Bearer ${key}` } });
const chat = () => gw.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });

describe('/admin/config', () => {
  it('refuses callers without an admin key: 401 without a key, 403 with a user key, on GET and PUT', async () => {
    await start();
    const none = await fetch(`${gw.url}/admin/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(none.status).toBe(401);
    expect((await put({ providers: [] }, user)).status).toBe(403);
    expect((await getConfig(user)).status).toBe(403);
    expect(gw.runtime.configStatus().version).toBe(1);
  });

  it('shows the live config with its secrets masked, and keeps a secret sent back masked', async () => {
    await start();
    const res = await getConfig();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-config-version')).toBe('1');
    const text = await res.text();
    expect(text).not.toContain(upstreamKey);
    const shown = JSON.parse(text) as { providers: { apiKey: string }[]; routing: { deadlineMs: number } };
    expect(shown.providers[0]?.apiKey).toBe('********');
    shown.routing.deadlineMs = 9000;
    const applied = await put(shown);
    expect(applied.status).toBe(200);
    expect(gw.runtime.config().routing.deadlineMs).toBe(9000);
    expect(gw.runtime.config().providers[0]?.apiKey).toBe(upstreamKey);
    // The upstream requires the key: it still gets it.
    expect((await chat()).choices[0]?.message.content).toBeTruthy();
  });

  it('answers 400 naming the field for an invalid config, and changes nothing', async () => {
    const config = await start(2);
    const before = JSON.stringify(gw.runtime.providers().map((p) => [p.id, p.state]));
    const bad = {
      ...config,
      providers: [
        { ...config.providers[0], id: 'x' },
        { ...config.providers[1], baseURL: 'not a url' },
      ],
    };
    const res = await put(bad);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; param: string } };
    expect(body.error.code).toBe('invalid_config');
    expect(body.error.param).toBe('providers[1].baseURL');
    expect(gw.runtime.configStatus()).toMatchObject({ version: 1, rejected: { param: 'providers[1].baseURL', source: 'api' } });
    expect(JSON.stringify(gw.runtime.providers().map((p) => [p.id, p.state]))).toBe(before);
    expect(gw.runtime.providers().map((p) => p.id)).toEqual(['p0/mock-model', 'p1/mock-model']);
    const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
    expect(metrics).toContain('switchyard_config_reloads_total{result="rejected"} 1');
    expect(metrics).toContain('switchyard_config_reloads_total{result="applied"} 1');
    expect(metrics).toMatch(/switchyard_config_version 1\b/);
  });

  it('no path trick reaches PUT /admin/config without an admin key', async () => {
    await start();
    for (const path of [
      '/admin/config/',
      '/admin//config',
      '/admin/%63onfig',
      '/v1/../admin/config',
      '/ADMIN/CONFIG',
      '/admin/config?x=1',
    ]) {
      const res = await fetch(`${gw.url}${path}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{"providers":[]}',
      });
      expect([401, 404]).toContain(res.status);
      expect((await put({ providers: [] }, user)).status).toBe(403);
    }
    expect(gw.runtime.configStatus().version).toBe(1);
  });

  it('without keys (loopback only) refuses a cross-site form post and a foreign Host', async () => {
    gw = await startGateway({ mocks: [{}] });
    const body = JSON.stringify({ providers: [] });
    const form = await fetch(`${gw.url}/admin/config`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body });
    expect(form.status).toBe(415);
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(
        `${gw.url}/admin/config`,
        { method: 'PUT', headers: { host: 'evil.example', 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(421);
    expect(gw.runtime.configStatus().version).toBe(0);
  });

  it('refuses hostile bodies: not an object, too deep, too large', async () => {
    await start();
    expect((await put([1, 2, 3])).status).toBe(400);
    expect((await put('"just a string"', admin, true)).status).toBe(400);
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    expect((await put(deep, admin, true)).status).toBe(400);
    const huge = JSON.stringify({ providers: [], pad: 'x'.repeat(5 * 1024 * 1024) });
    expect((await put(huge, admin, true)).status).toBe(413);
    expect(gw.runtime.configStatus().version).toBe(1);
  });

  it('removing every deployment of a model in use lets its stream finish, then answers model_not_found', async () => {
    const config = await start(1);
    const stream = await gw.client.chat.completions.create({
      model: 'chat',
      stream: true,
      messages: [{ role: 'user', content: 'a long enough prompt to stream for a while '.repeat(4) }],
    });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    const res = await put({ ...config, providers: [{ ...config.providers[0], models: { other: 'mock-model-2' } }] });
    expect(res.status).toBe(200);
    expect(gw.runtime.providers().find((p) => p.id === 'p0/mock-model')?.health).toBe('draining');
    let finish: string | null | undefined;
    for (let next = await iterator.next(); !next.done; next = await iterator.next())
      finish = next.value.choices[0]?.finish_reason ?? finish;
    expect(finish).toBe('stop');
    const err = await chat().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, code: 'model_not_found' });
    await pollUntil(
      async () => gw.runtime.providers().map((p) => p.id),
      (ids) => !ids.includes('p0/mock-model'),
    );
  });
});
