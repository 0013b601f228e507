// Rollouts across two runtimes sharing one real Redis: one drives under the lease, the other follows each change
// within a second, forwards operator commands to the driver, and takes over when the driver stops.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { waitUntil } from '../helpers/wait.ts';

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

function instance(name: string): Runtime {
  const runtime = createRuntime({
    providers: [
      { id: 'p0', baseURL: mocks[0]?.url ?? '', models: { 'chat-v1': 'model-a' } },
      { id: 'p1', baseURL: mocks[1]?.url ?? '', models: { 'chat-v2': 'model-b' } },
    ],
    cluster: { redis: redis.url, instanceId: name },
    rollouts: [{ id: 'v2', model: 'chat', from: 'chat-v1', to: 'chat-v2', holdMs: 600_000 }],
  });
  runtimes.push(runtime);
  return runtime;
}

describe('rollouts in a cluster', () => {
  it('has one driver; the follower takes each change of state within a second, and commands sent to it reach the driver', async () => {
    const one = instance('one');
    const two = instance('two');
    await waitUntil(() => [one, two].filter((r) => r.rollout('v2').driving).length === 1, 3000);
    const [driver, follower] = one.rollout('v2').driving ? [one, two] : [two, one];
    if (!driver || !follower) throw new Error('no driver');
    expect(follower.rollout('v2').driving).toBe(false);

    driver.rolloutCommand('v2', 'pause');
    await waitUntil(() => follower.rollout('v2').state === 'paused', 1000);
    expect(follower.rollout('v2').percent).toBe(10);

    // Sent to the follower, the command runs on the driver, and comes back as the driver's state.
    follower.rolloutCommand('v2', 'resume');
    await waitUntil(() => driver.rollout('v2').state === 'ramping.step1.holding', 1000);
    await waitUntil(() => follower.rollout('v2').state === 'ramping.step1.holding', 1000);

    driver.rolloutCommand('v2', 'promote');
    await waitUntil(() => follower.rollout('v2').state === 'promoted', 1000);
    expect(follower.rollout('v2').percent).toBe(100);
    const { route } = await follower.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(route.variant).toBe('canary');

    // The driver goes away: its lease is released and the follower drives from the state it followed.
    runtimes.splice(runtimes.indexOf(driver), 1);
    await driver.stop();
    await waitUntil(() => follower.rollout('v2').driving, 2000);
    expect(follower.rollout('v2').state).toBe('promoted');

    // A late joiner reads the state from Redis.
    const late = instance('late');
    await waitUntil(() => late.rollout('v2').state === 'promoted', 2000);
    expect(late.rollout('v2').driving).toBe(false);
  }, 20_000);
});
