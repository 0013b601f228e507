// The config a cluster shares, on a real Redis: a reload on one instance reaches the others with the same
// version; an instance that cannot apply it (its environment lacks a variable the config names) keeps its
// config and says so; an instance that joins later adopts the cluster's config.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { createMetrics } from '../../src/server/metrics.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { pollUntil } from '../helpers/wait.ts';

let redis: TestRedis;
let mock: MockUpstream;
let live: Runtime[] = [];
beforeAll(async () => {
  [redis, mock] = await Promise.all([startRedis(), startMockUpstream()]);
});
afterEach(async () => {
  await Promise.all(live.map((r) => r.stop()));
  live = [];
});
afterAll(async () => {
  await Promise.all([redis.stop(), mock.close()]);
});

let prefix = 0;
function config(models: Record<string, string>, apiKey?: string): SwitchyardConfigInput {
  return { providers: [{ id: 'm', baseURL: mock.url, models, ...(apiKey ? { apiKey } : {}) }] };
}

async function instance(name: string, env: NodeJS.ProcessEnv = {}, models: Record<string, string> = { chat: 'mock-model' }) {
  const runtime = createRuntime(
    { ...config(models), cluster: { redis: redis.url, instanceId: name, prefix: `t${prefix}` } },
    { env: { ...env }, store: 'memory' },
  );
  live.push(runtime);
  await pollUntil(
    async () => runtime.cluster()?.link,
    (link) => link === 'up',
  );
  return runtime;
}

describe('cluster config', () => {
  it('a config applied on one instance reaches the others under the same version', async () => {
    prefix++;
    const [one, two] = [await instance('one'), await instance('two')];
    const result = await one.reload(config({ chat: 'mock-model', added: 'mock-model-2' }), { source: 'api' });
    expect(result).toMatchObject({ version: 1, shared: true });
    await pollUntil(
      async () => two.configStatus(),
      (s) => s.version === 1,
    );
    expect(two.models()).toEqual(['chat', 'added']);
    expect(two.configStatus().source).toBe('cluster');
    expect(two.providers().map((p) => p.id)).toEqual(['m/mock-model', 'm/mock-model-2']);
  });

  it('an instance that cannot apply it keeps its config and says so; a later joiner adopts the newest', async () => {
    prefix++;
    const one = await instance('one', { UPSTREAM_KEY: 'sk-from-env-1234' });
    const two = await instance('two');
    const metrics = createMetrics(two);
    await one.reload({ ...config({ chat: 'mock-model', keyed: 'mock-model-3' }, `\${UPSTREAM_KEY}`) }, { source: 'api' });
    const status = await pollUntil(
      async () => two.configStatus(),
      (s) => s.rejected !== null,
    );
    expect(status.version).toBe(0);
    expect(status.rejected).toMatchObject({ version: 1, source: 'cluster', param: 'providers[0].apiKey' });
    expect(two.models()).toEqual(['chat']);
    expect(await metrics.registry.metrics()).toContain('switchyard_config_reloads_total{result="rejected"} 1');
    expect(one.configStatus().version).toBe(1);

    const late = await instance('late', { UPSTREAM_KEY: 'sk-from-env-5678' });
    await pollUntil(
      async () => late.configStatus().version,
      (v) => v === 1,
    );
    expect(late.models()).toEqual(['chat', 'keyed']);
  });

  it('a config refused where it is sent never reaches Redis', async () => {
    prefix++;
    const [one, two] = [await instance('one'), await instance('two')];
    const err = await one.reload({ providers: [{ id: 'm', baseURL: 'nope', models: {} }] }, { source: 'api' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'invalid_config' });
    await one.reload(config({ chat: 'mock-model', ok: 'mock-model-4' }), { source: 'api' });
    await pollUntil(
      async () => two.configStatus().version,
      (v) => v === 1,
    );
    expect(two.configStatus().rejected).toBeNull();
  });

  it('applies a reload on this instance only while Redis is unreachable, and says so', async () => {
    prefix++;
    const one = await instance('one');
    await redis.kill();
    try {
      await pollUntil(
        async () => one.cluster()?.link,
        (link) => link !== 'up',
      );
      const result = await one.reload(config({ chat: 'mock-model', alone: 'mock-model-5' }), { source: 'api' });
      expect(result).toMatchObject({ version: 1, shared: false });
      expect(one.models()).toEqual(['chat', 'alone']);
    } finally {
      await redis.restart();
    }
  });
});
