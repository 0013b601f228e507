// Shared budgets through the request path: three runtimes on one Redis route to a budgeted deployment A only
// while the cluster's window has room, and to B after, together never more than A's rpm; tokens are settled.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { waitUntil } from '../helpers/wait.ts';

let redis: TestRedis;
let a: MockUpstream;
let b: MockUpstream;
const runtimes: Runtime[] = [];

beforeAll(async () => {
  redis = await startRedis();
  [a, b] = await Promise.all([startMockUpstream(), startMockUpstream()]);
});
afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.stop()));
  await Promise.all([a.close(), b.close(), redis.stop()]);
});

function runtime(name: string, prefix: string, failOpen = true) {
  const r = createRuntime({
    providers: [
      { id: 'a', baseURL: a.url, models: { chat: 'mock-model' }, rpm: 20 },
      { id: 'b', baseURL: b.url, models: { chat: 'mock-model' } },
    ],
    cluster: { redis: redis.url, instanceId: name, prefix, failOpen },
  });
  runtimes.push(r);
  return r;
}
const ask = (r: Runtime, n: number) => r.chat({ model: 'chat', messages: [{ role: 'user', content: `question ${n}` }] });

describe('shared budgets in the request path', () => {
  it('admits no more than the rpm of a deployment across three instances, and serves the rest from the next one', async () => {
    const three = ['gw-1', 'gw-2', 'gw-3'].map((n) => runtime(n, 'rpm'));
    await waitUntil(() => three.every((r) => r.cluster()?.link === 'up'), 5000);
    const beforeA = a.stats().requests;
    const results = await Promise.all(Array.from({ length: 90 }, (_, n) => ask(three[n % 3] as Runtime, n)));
    const servedByA = results.filter((r) => r.route.deployments[0] === 'a/mock-model').length;
    expect(servedByA).toBe(20);
    expect(a.stats().requests - beforeA).toBe(20);
    expect(results.every((r) => r.completion.choices[0]?.message.content)).toBe(true);
  });

  it('keeps each instance to its own buckets while Redis is down (failOpen), and refuses the budgeted one without (failOpen: false)', async () => {
    const open = runtime('gw-open', 'down-open');
    const closed = runtime('gw-closed', 'down-closed', false);
    await waitUntil(() => open.cluster()?.link === 'up' && closed.cluster()?.link === 'up', 5000);
    await redis.kill();
    await waitUntil(() => open.cluster()?.link === 'degraded' && closed.cluster()?.link === 'degraded', 5000);
    const viaOpen = await Promise.all(Array.from({ length: 30 }, (_, n) => ask(open, n)));
    expect(viaOpen.filter((r) => r.route.deployments[0] === 'a/mock-model')).toHaveLength(20);
    const viaClosed = await Promise.all(Array.from({ length: 5 }, (_, n) => ask(closed, n)));
    expect(viaClosed.every((r) => r.route.deployments[0] === 'b/mock-model')).toBe(true);
    await redis.restart();
    await waitUntil(() => open.cluster()?.link === 'up', 10_000);
  });
});
