// Per-tenant budgets shared through a real Redis: two instances together admit a tenant's rpm once, not twice;
// tokens are settled with the real usage, and refunded in the deployment's shared window when its attempt
// failed before the upstream used them. With Redis gone, each instance keeps its own buckets (failOpen) or
// refuses the tenant (failOpen: false).

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSwitchyardError } from '../../src/errors.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { waitUntil } from '../helpers/wait.ts';

let redis: TestRedis;
let down: MockUpstream;
let up: MockUpstream;
const runtimes: Runtime[] = [];

beforeAll(async () => {
  redis = await startRedis();
  [down, up] = await Promise.all([startMockUpstream({ faults: { mode: 'error', status: 503 } }), startMockUpstream()]);
});
afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.stop()));
  await Promise.all([down.close(), up.close(), redis.stop()]);
});

async function instance(name: string, prefix: string, tenants: Record<string, { rpm?: number; tpm?: number }>, failOpen = true) {
  const r = createRuntime({
    providers: [
      { id: 'a', baseURL: down.url, models: { chat: 'mock-model' }, tpm: 1000 },
      { id: 'b', baseURL: up.url, models: { chat: 'mock-model' } },
    ],
    health: { tripConsecutiveFailures: 1000 },
    auth: { tenants },
    cluster: { redis: redis.url, instanceId: name, prefix, failOpen },
  });
  runtimes.push(r);
  await waitUntil(() => r.cluster()?.link === 'up', 5000);
  return r;
}
const ask = (r: Runtime, tenant = 'acme') =>
  r.chat({ model: 'chat', messages: [{ role: 'user', content: 'hello there' }] }, { tenant }).then(
    () => 'ok',
    (err: unknown) => (isSwitchyardError(err) ? err.code : String(err)),
  );

describe('per-tenant budgets across instances', () => {
  it("admits a tenant's rpm once across two instances and refuses the rest with rate_limited", async () => {
    const [one, two] = [await instance('gw-1', 'rpm', { acme: { rpm: 4 } }), await instance('gw-2', 'rpm', { acme: { rpm: 4 } })];
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) outcomes.push(await ask(i % 2 === 0 ? one : two));
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(4);
    expect(outcomes.filter((o) => o === 'rate_limited')).toHaveLength(4);
    // Another tenant is not limited.
    expect(await ask(one, 'other')).toBe('ok');
    const refused = await one.chat({ model: 'chat', messages: [{ role: 'user', content: 'again' }] }, { tenant: 'acme' }).catch((e) => e);
    expect(refused).toMatchObject({ code: 'rate_limited', status: 429 });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
  });

  it("settles the tenant's tokens with the real usage and refunds the failed attempt's in the deployment's window", async () => {
    const r = await instance('gw-3', 'tpm', { acme: { tpm: 100_000 } });
    const client = new Redis(redis.url);
    try {
      const result = await r.chat({ model: 'chat', messages: [{ role: 'user', content: 'hello there' }] }, { tenant: 'acme' });
      expect(result.route.attempts.map((a) => a.outcome)).toEqual(['provider_unavailable', 'ok']);
      const read = async (key: string) => Number((await client.get(key)) ?? 'NaN');
      let tenantSum = 0;
      let deploymentSum = -1;
      for (let i = 0; i < 50 && (tenantSum !== result.completion.usage?.total_tokens || deploymentSum !== 0); i++) {
        tenantSum = await read('tpm:{budget:tenant:acme}:sum');
        deploymentSum = await read('tpm:{budget:a/mock-model}:sum');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(tenantSum).toBe(result.completion.usage?.total_tokens);
      expect(deploymentSum).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('keeps a budget per instance while Redis is down (failOpen), and refuses the tenant without (failOpen: false)', async () => {
    const open = await instance('gw-open', 'down-open', { acme: { rpm: 2 } });
    const closed = await instance('gw-closed', 'down-closed', { acme: { rpm: 2 } }, false);
    await redis.kill();
    await waitUntil(() => open.cluster()?.link === 'degraded' && closed.cluster()?.link === 'degraded', 5000);
    expect([await ask(open), await ask(open), await ask(open)]).toEqual(['ok', 'ok', 'rate_limited']);
    expect(await ask(closed)).toBe('rate_limited');
    expect(await ask(closed, 'unlimited')).toBe('ok');
    await redis.restart();
  });
});
