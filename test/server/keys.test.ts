// Where keys come from (the environment, the config's auth.keys), how a tenant is named, and what the logs keep.

import { afterEach, describe, expect, it } from 'vitest';
import { tenantOfKey } from '../../src/config/auth.ts';
import { resolveConfig } from '../../src/config.ts';
import { keyTable } from '../../src/server/auth.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
async function gateway(options: Parameters<typeof startGateway>[0]): Promise<Gateway> {
  const g = await startGateway(options);
  cleanup.push(() => g.close());
  return g;
}
const provider = { id: 'p', baseURL: 'http://127.0.0.1:9/v1', models: { chat: 'mock-model' } };

describe('the key table', () => {
  it('reads SWITCHYARD_API_KEYS as users and SWITCHYARD_ADMIN_KEYS as admins, each its own tenant', () => {
    const table = keyTable({}, { SWITCHYARD_API_KEYS: 'sk-u1, sk-u2', SWITCHYARD_ADMIN_KEYS: 'sk-a1' });
    expect(table.map((k) => [k.key, k.role])).toEqual([
      ['sk-u1', 'user'],
      ['sk-u2', 'user'],
      ['sk-a1', 'admin'],
    ]);
    expect(new Set(table.map((k) => k.tenant)).size).toBe(3);
    // The tenant names the key without revealing it.
    expect(tenantOfKey('sk-u1')).toMatch(/^key-[0-9a-f]{16}$/);
    expect(tenantOfKey('sk-u1')).not.toContain('sk-u1');
  });

  it('refuses a key listed as a user and as an admin', () => {
    expect(() => keyTable({}, { SWITCHYARD_API_KEYS: 'sk-same', SWITCHYARD_ADMIN_KEYS: 'sk-same' })).toThrow(
      expect.objectContaining({ code: 'invalid_config' }),
    );
  });

  it('reads auth.keys from the config with an environment variable, a tenant shared by several keys, and a role', () => {
    const config = resolveConfig(
      {
        providers: [provider],
        auth: {
          keys: [
            // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${VAR} syntax
            { key: '${TEAM_A_KEY_1}', tenant: 'team-a' },
            { key: 'sk-team-a-2', tenant: 'team-a', role: 'user' },
            { key: 'sk-ops', role: 'admin' },
          ],
        },
      },
      { TEAM_A_KEY_1: 'sk-team-a-1' },
    );
    expect(config.auth.keys).toEqual([
      { key: 'sk-team-a-1', tenant: 'team-a', role: 'user' },
      { key: 'sk-team-a-2', tenant: 'team-a', role: 'user' },
      { key: 'sk-ops', tenant: tenantOfKey('sk-ops'), role: 'admin' },
    ]);
  });

  it.each([
    [{ keys: [{ key: 'k', role: 'root' }] }, 'auth.keys[0].role'],
    [{ keys: [{ key: '' }] }, 'auth.keys[0].key'],
    [{ keys: [{ key: 'k', tenant: '../etc' }] }, 'auth.keys[0].tenant'],
    [{ keys: [{ key: 'k' }, { key: 'k' }] }, 'auth.keys[1].key'],
    [{ keys: [{ key: 'k', scopes: [] }] }, 'auth.keys[0].scopes'],
    [{ keys: 'k' }, 'auth.keys'],
  ])('refuses a bad auth section %j, naming %s', (auth, param) => {
    expect(() => resolveConfig({ providers: [provider], auth })).toThrow(expect.objectContaining({ code: 'invalid_config', param }));
  });
});

describe('keys from the config on a running server', () => {
  it("lets two keys of one tenant share its conversations, and the config's admin key reach operator routes", async () => {
    const keys = resolveConfig({
      providers: [provider],
      auth: {
        keys: [
          { key: 'sk-a1-0123456789', tenant: 'team-a' },
          { key: 'sk-a2-0123456789', tenant: 'team-a' },
          { key: 'sk-b1-0123456789', tenant: 'team-b' },
          { key: 'sk-op-0123456789', role: 'admin' },
        ],
      },
    }).auth.keys;
    const g = await gateway({ mocks: [{}], server: { keys } });
    const as = (key: string) => ({ authorization: `Bearer ${key}` });
    const { id } = (await (await g.post('/v1/conversations', { model: 'chat' }, as('sk-a1-0123456789'))).json()) as { id: string };
    expect((await fetch(`${g.url}/v1/conversations/${id}`, { headers: as('sk-a2-0123456789') })).status).toBe(200);
    expect((await fetch(`${g.url}/v1/conversations/${id}`, { headers: as('sk-b1-0123456789') })).status).toBe(404);
    expect((await fetch(`${g.url}/v1/providers`, { headers: as('sk-a1-0123456789') })).status).toBe(403);
    expect((await fetch(`${g.url}/v1/providers`, { headers: as('sk-op-0123456789') })).status).toBe(200);
  });
});

describe('logs', () => {
  it('never write the ?key= of the inspector, nor a bearer key', async () => {
    const lines: string[] = [];
    const admin = 'sk-admin-log-canary-42';
    const user = 'sk-user-log-canary-42';
    const g = await gateway({
      mocks: [{}],
      server: { apiKeys: [user], adminKeys: [admin], logger: { level: 'info', stream: { write: (line) => lines.push(line) } } },
    });
    expect((await fetch(`${g.url}/inspect?key=${admin}`)).status).toBe(200);
    expect((await fetch(`${g.url}/v1/models?key=${user}&x=1`)).status).toBe(401);
    expect((await fetch(`${g.url}/v1/models`, { headers: { authorization: `Bearer ${user}` } })).status).toBe(200);
    const controller = new AbortController();
    await fetch(`${g.url}/inspect/events?key=${encodeURIComponent(admin)}`, { signal: controller.signal });
    controller.abort();
    const log = lines.join('');
    expect(log).toContain('/inspect?key=[redacted]');
    expect(log).toContain('/v1/models?key=[redacted]&x=1');
    expect(log).not.toContain('canary');
  });
});
