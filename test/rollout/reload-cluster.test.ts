// Rollouts added, changed and removed by a reload in a cluster (two runtimes on one real Redis): the config
// reaches both instances, exactly one drives the new rollout and the other follows it; a changed rollout starts
// afresh on both (its follower does not take the state its former self left in Redis); a removed one stops on both.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import type { RolloutView } from '../../src/rollout/rollout.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { pollUntil, waitUntil } from '../helpers/wait.ts';

let redis: TestRedis;
let mocks: MockUpstream[];
const runtimes: Runtime[] = [];

beforeAll(async () => {
  redis = await startRedis();
  mocks = [await startMockUpstream(), await startMockUpstream()];
}, 20_000);

afterAll(async () => {
  for (const r of runtimes) await r.stop();
  await Promise.all(mocks.map((m) => m.close()));
  await redis?.stop();
});

const rollout = { id: 'v2', model: 'chat', from: 'chat-v1', to: 'chat-v2', holdMs: 600_000 };

const config = (rollouts: SwitchyardConfigInput['rollouts']): SwitchyardConfigInput => ({
  providers: [
    { id: 'p0', baseURL: mocks[0]?.url ?? '', models: { 'chat-v1': 'model-a' } },
    { id: 'p1', baseURL: mocks[1]?.url ?? '', models: { 'chat-v2': 'model-b' } },
  ],
  rollouts,
});

async function instance(name: string): Promise<Runtime> {
  const runtime = createRuntime({ ...config([]), cluster: { redis: redis.url, instanceId: name, prefix: 'reload' } }, { store: 'memory' });
  runtimes.push(runtime);
  await pollUntil(
    async () => runtime.cluster()?.link,
    (link) => link === 'up',
  );
  return runtime;
}

/** The rollout's view on an instance, or null where it does not run. */
const viewOf = (r: Runtime, id = 'v2'): RolloutView | null => r.rollouts().find((v) => v.id === id) ?? null;

describe('rollouts added by a reload in a cluster', () => {
  it('are driven by exactly one instance and followed by the other; changed ones start afresh on both; removed ones stop on both', async () => {
    const one = await instance('one');
    const two = await instance('two');
    const both = [one, two];

    await one.reload({ ...config([rollout]), cluster: one.config().cluster }, { source: 'api' });
    await waitUntil(() => both.every((r) => viewOf(r) !== null), 3000);
    await waitUntil(() => both.filter((r) => viewOf(r)?.driving).length === 1, 5000);
    const [driver, follower] = viewOf(one)?.driving ? [one, two] : [two, one];
    if (!driver || !follower) throw new Error('no driver');
    expect(both.map((r) => viewOf(r)?.state)).toEqual(['ramping.step1.holding', 'ramping.step1.holding']);

    driver.rolloutCommand('v2', 'pause');
    await waitUntil(() => viewOf(follower)?.state === 'paused', 2000);

    // Changed through the follower: both start it afresh, ramping at its first step, not paused as before.
    await follower.reload({ ...config([{ ...rollout, steps: [20, 100] }]), cluster: follower.config().cluster }, { source: 'api' });
    await waitUntil(() => both.every((r) => viewOf(r)?.steps.length === 2), 3000);
    await waitUntil(() => both.filter((r) => viewOf(r)?.driving).length === 1, 5000);
    await waitUntil(() => both.every((r) => viewOf(r)?.state === 'ramping.step1.holding'), 2000);
    expect(both.map((r) => viewOf(r)?.percent)).toEqual([20, 20]);
    // The new one is shared like the first: a command on either instance reaches both.
    const newDriver = both.find((r) => viewOf(r)?.driving);
    const newFollower = both.find((r) => r !== newDriver);
    if (!newDriver || !newFollower) throw new Error('no driver');
    newFollower.rolloutCommand('v2', 'promote');
    await waitUntil(() => both.every((r) => viewOf(r)?.state === 'promoted'), 2000);

    await one.reload({ ...config([]), cluster: one.config().cluster }, { source: 'api' });
    await waitUntil(() => both.every((r) => r.rollouts().length === 0), 3000);
    expect(() => two.rollout('v2')).toThrow(expect.objectContaining({ code: 'rollout_not_found' }));
    // Neither instance still listens on a channel of the rollouts the reloads replaced and removed.
    const probe = new Redis(redis.url);
    try {
      const channels = await pollUntil(
        () => probe.pubsub('CHANNELS', 'reload:rollout:*') as Promise<string[]>,
        (c) => c.length === 0,
        3000,
      );
      expect(channels).toEqual([]);
    } finally {
      probe.disconnect();
    }
  }, 30_000);
});
