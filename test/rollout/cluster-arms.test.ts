// Arm figures across a cluster: two gateways share one real Redis. The canary fails only on traffic sent to the
// instance that does not drive, and the driver rolls back on the summed figures (its own alone pass the guard);
// the experiments route of either instance reports both instances' requests while /metrics stays per instance;
// a step change starts the window afresh on both; Redis killed mid-run costs no request.

import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { subjectPoint } from '../../src/rollout/hash.ts';
import { breachOf } from '../../src/rollout/machine.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { pollUntil, waitUntil } from '../helpers/wait.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const admin = 'admin-key-0123456789';

async function redisServer(): Promise<TestRedis> {
  const redis = await startRedis();
  closers.push(() => redis.stop());
  return redis;
}

async function mock(options: Parameters<typeof startMockUpstream>[0] = {}): Promise<MockUpstream> {
  const m = await startMockUpstream(options);
  closers.push(() => m.close());
  return m;
}

/** A gateway in the cluster of `redis`: p0 serves chat-v1 from `baseline`, p1 chat-v2 from `canary`. */
async function gateway(
  name: string,
  redis: TestRedis,
  upstreams: { baseline: MockUpstream; canary: MockUpstream },
  splits: Pick<SwitchyardConfigInput, 'experiments' | 'rollouts'>,
) {
  const runtime: Runtime = createRuntime({
    providers: [
      { id: 'p0', baseURL: upstreams.baseline.url, models: { 'chat-v1': 'model-a' } },
      { id: 'p1', baseURL: upstreams.canary.url, models: { 'chat-v2': 'model-b' } },
    ],
    routing: { deadlineMs: 10_000, maxWaitForRecoveryMs: 0 },
    cluster: { redis: redis.url, instanceId: name },
    ...splits,
  });
  const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [], adminKeys: [admin] });
  closers.push(() => server.shutdown(100));
  const get = async (path: string) => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${admin}` } });
    return res.status === 200 ? res.json() : Promise.reject(new Error(`${path}: ${res.status}`));
  };
  const metrics = () => fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.text());
  return { runtime, get, metrics };
}

const ask = (content: string) => ({ model: 'chat', messages: [{ role: 'user' as const, content }] });

// Tenants on each side of a 50 % rollout of `v2` (the sticky hash is pure: the test computes the arm it gets).
const tenants = (canary: boolean, n: number) =>
  Array.from({ length: 1000 }, (_, i) => `t${i}`)
    .filter((t) => subjectPoint('v2', t) < 0.5 === canary)
    .slice(0, n);

const rollout = {
  id: 'v2',
  model: 'chat',
  from: 'chat-v1',
  to: 'chat-v2',
  steps: [50, 100],
  holdMs: 600_000,
  sticky: 'tenant',
  guard: { minRequests: 20, maxErrorRateIncrease: 0.05 },
};

describe('arm figures summed across a cluster', () => {
  it('rolls back on the sum when the canary fails only on the follower, though the driver’s own figures pass', async () => {
    const redis = await redisServer();
    const baseline = await mock();
    const healthy = await mock();
    const broken = await mock({ faults: { mode: 'error', status: 500, rate: 1 } });
    const a = await gateway('a', redis, { baseline, canary: healthy }, { rollouts: [rollout] });
    await waitUntil(() => a.runtime.rollout('v2').driving, 3000);
    const b = await gateway('b', redis, { baseline, canary: broken }, { rollouts: [rollout] });
    await waitUntil(() => b.runtime.rollout('v2').percent === 50, 3000);

    // 30 canary requests on the driver, all fine: past minRequests, no breach.
    for (const t of tenants(true, 30)) expect((await a.runtime.chat(ask('hi'), { subject: { tenant: t } })).route.variant).toBe('canary');
    const before = await pollUntil(
      async () => a.runtime.rollout('v2'),
      (v) => v.scope === 'cluster' && v.window.canary.requests === 30,
    );
    expect(before.state).toBe('ramping.step1.holding');
    // The follower reads the same step window (it took the driver's epoch with its state).
    await pollUntil(
      async () => b.runtime.rollout('v2').window.canary.requests,
      (n) => n === 30,
    );

    // 10 canary requests on the follower: each fails on the canary and is served by the baseline.
    for (const t of tenants(true, 10)) {
      const { route } = await b.runtime.chat(ask('hi'), { subject: { tenant: t } });
      expect(route.variant).toBe('baseline');
    }
    await waitUntil(() => a.runtime.rollout('v2').state === 'rolledBack', 3000);
    const after = a.runtime.rollout('v2');
    expect(after.reason).toMatch(/error rate 25\.0 % on the canary/);
    // Judged on the driver's figures alone, the guard would have held.
    const own = after.local?.window;
    expect(own?.canary).toMatchObject({ requests: 30, errors: 0 });
    if (!own) throw new Error('no local figures');
    expect(breachOf({ ...after.guard, latencyToleranceMs: 100 }, own)).toBeNull();
    // The follower routes everything to the baseline within a second.
    await waitUntil(() => b.runtime.rollout('v2').state === 'rolledBack', 1000);
    expect(b.runtime.rollout('v2').local?.arms.canary).toMatchObject({ requests: 10, errors: 10 });
  }, 30_000);

  it('starts the step window afresh on every instance when the driver changes step', async () => {
    const redis = await redisServer();
    const upstreams = { baseline: await mock(), canary: await mock() };
    const a = await gateway('a', redis, upstreams, { rollouts: [rollout] });
    await waitUntil(() => a.runtime.rollout('v2').driving, 3000);
    const b = await gateway('b', redis, upstreams, { rollouts: [rollout] });
    await waitUntil(() => b.runtime.rollout('v2').percent === 50, 3000);
    const [first, ...rest] = tenants(true, 4);
    await a.runtime.chat(ask('hi'), { subject: { tenant: first } });
    await pollUntil(
      async () => b.runtime.rollout('v2').window.canary.requests,
      (n) => n === 1,
    );
    for (const t of rest) await b.runtime.chat(ask('hi'), { subject: { tenant: t } });
    await pollUntil(
      async () => a.runtime.rollout('v2').window.canary.requests,
      (n) => n === 4,
    );

    a.runtime.rolloutCommand('v2', 'pause');
    await waitUntil(() => b.runtime.rollout('v2').state === 'paused', 1000);
    a.runtime.rolloutCommand('v2', 'resume');
    await waitUntil(() => b.runtime.rollout('v2').state === 'ramping.step1.holding', 1000);
    for (const t of tenants(true, 3)) await b.runtime.chat(ask('hi'), { subject: { tenant: t } });
    // Both read the new window: the follower's 3 requests since the resume, not the 4 before it.
    for (const r of [a.runtime, b.runtime]) {
      const view = await pollUntil(
        async () => r.rollout('v2'),
        (v) => v.scope === 'cluster' && v.window.canary.requests === 3,
      );
      expect(view.arms.canary.requests).toBe(7);
    }
  }, 30_000);

  it('reports the sum of both instances on either one’s experiments route, and each its own on /metrics', async () => {
    const redis = await redisServer();
    const upstreams = { baseline: await mock(), canary: await mock() };
    const experiment = {
      id: 'tone',
      model: 'chat',
      sticky: 'none',
      variants: [
        { name: 'plain', model: 'chat-v1', weight: 1 },
        { name: 'brief', model: 'chat-v2', weight: 1 },
      ],
    };
    const a = await gateway('a', redis, upstreams, { experiments: [experiment] });
    const b = await gateway('b', redis, upstreams, { experiments: [experiment] });
    for (let i = 0; i < 6; i++) await a.runtime.chat(ask('hi'));
    for (let i = 0; i < 4; i++) await b.runtime.chat(ask('hi'));
    type View = { scope: string; variants: { requests: number }[] };
    const total = (v: View) => v.variants.reduce((sum, x) => sum + x.requests, 0);
    for (const g of [a, b]) {
      const view = await pollUntil(
        () => g.get('/v1/experiments/tone') as Promise<View>,
        (v) => total(v) === 10,
      );
      expect(view.scope).toBe('cluster');
    }
    const requestsIn = (text: string) =>
      [...text.matchAll(/^switchyard_variant_requests_total\{[^}]*experiment="tone"[^}]*\} (\d+)$/gm)].reduce(
        (s, m) => s + Number(m[1]),
        0,
      );
    expect(requestsIn(await a.metrics())).toBe(6);
    expect(requestsIn(await b.metrics())).toBe(4);
    expect(await a.metrics()).toMatch(/switchyard_variant_figures_shared\{experiment="tone"\} 1/);
  }, 30_000);

  it('serves every request with Redis killed mid-run, and shows and judges this instance’s own figures meanwhile', async () => {
    const redis = await redisServer();
    const upstreams = { baseline: await mock(), canary: await mock() };
    const a = await gateway('a', redis, upstreams, { rollouts: [rollout] });
    await waitUntil(() => a.runtime.rollout('v2').driving, 3000);
    for (let i = 0; i < 5; i++) await a.runtime.chat(ask('hi'), { subject: { tenant: `t${i}` } });
    await pollUntil(
      async () => a.runtime.rollout('v2'),
      (v) => v.scope === 'cluster' && v.arms.baseline.requests + v.arms.canary.requests === 5,
    );

    await redis.kill();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => a.runtime.chat(ask('hi'), { subject: { tenant: `u${i}` } })));
    expect(answers).toHaveLength(20);
    const view = await pollUntil(
      async () => a.runtime.rollout('v2'),
      (v) => v.scope === 'instance',
      5000,
    );
    expect(view.arms.baseline.requests + view.arms.canary.requests).toBe(25);
    expect(view.local).toBeUndefined();
    // The driver still drives, and judges the guards on its own figures: a canary that starts failing now is
    // rolled back, every request still answered (by the baseline).
    expect(view.driving).toBe(true);
    expect(view.state).toBe('ramping.step1.holding');
    upstreams.canary.setFaults({ mode: 'error', status: 500, rate: 1 });
    for (const t of tenants(true, 25)) {
      const { route } = await a.runtime.chat(ask('hi'), { subject: { tenant: t } });
      expect(route.variant).toBe('baseline');
      if (a.runtime.rollout('v2').state === 'rolledBack') break;
    }
    const judged = a.runtime.rollout('v2');
    expect(judged.state).toBe('rolledBack');
    expect(judged.scope).toBe('instance');
    expect(judged.reason).toMatch(/error rate/);
  }, 30_000);
});
