// Three `switchyard serve` processes on one real Redis, over two mock upstreams (A preferred, B backup): a trip on
// one instance keeps the other two off A without their ever calling it, one probe at a time reaches A while it is
// down, all three recover after one successful probe, and killing Redis fails no request.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { pollUntil, waitUntil } from '../helpers/wait.ts';

interface Instance {
  name: string;
  url: string;
  child: ChildProcess;
}
interface ProviderRow {
  id: string;
  health: string;
  trippedBy: string | null;
}
interface Providers {
  data: ProviderRow[];
  cluster?: { instanceId: string; link: string; members: { instanceId: string }[] };
}

const cooldownMs = 600;
let redis: TestRedis;
let a: MockUpstream;
let b: MockUpstream;
let instances: Instance[] = [];
let probesOfA: number[] = [];

async function startInstance(name: string, config: string): Promise<Instance> {
  const bin = new URL('../../bin/switchyard.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [bin, 'serve', '--config', config, '--port', '0', '--store', 'memory', '--redis', redis.url], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  await waitUntil(() => /switchyard listening: (\S+)\/v1/.test(output), 15_000);
  return { name, url: /switchyard listening: (\S+)\/v1/.exec(output)?.[1] ?? '', child };
}

const providersOf = async (i: Instance) => (await (await fetch(`${i.url}/v1/providers`)).json()) as Providers;
const healthOfA = async (i: Instance) => (await providersOf(i)).data.find((p) => p.id === 'a/mock-model')?.health;
const chat = (i: Instance) =>
  fetch(`${i.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `hi from ${i.name}` }] }),
  });

beforeAll(async () => {
  redis = await startRedis();
  a = await startMockUpstream({ onRequest: (at) => probesOfA.push(at) });
  b = await startMockUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-cluster-'));
  instances = await Promise.all(
    ['gw-1', 'gw-2', 'gw-3'].map(async (name) => {
      const config = join(dir, `${name}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          providers: [
            { id: 'a', baseURL: a.url, models: { chat: 'mock-model' } },
            { id: 'b', baseURL: b.url, models: { chat: 'mock-model' } },
          ],
          health: {
            tripConsecutiveFailures: 2,
            probeIdleMs: 50,
            backoff: { kind: 'fixed', initialMs: cooldownMs, maxMs: cooldownMs, jitter: 'none' },
          },
          cluster: { instanceId: name, probeLeaseMs: 5000 },
        }),
      );
      return startInstance(name, config);
    }),
  );
  // Every instance has joined (the heartbeat lists all three).
  await pollUntil(
    () => providersOf(instances[0] as Instance),
    (p) => (p.cluster?.members.length ?? 0) === 3,
    10_000,
  );
}, 60_000);

afterAll(async () => {
  for (const i of instances) i.child.kill('SIGKILL');
  await Promise.all([a?.close(), b?.close(), redis?.stop()]);
});

describe('a cluster of three gateways', () => {
  it('keeps every instance off a deployment that one of them tripped, probes it one at a time, and recovers all together', async () => {
    const [gw1, gw2, gw3] = instances as [Instance, Instance, Instance];
    a.setFaults({ mode: 'error', status: 503 });
    // gw-1 alone meets the failures and trips A; its answers come from B.
    for (let n = 0; n < 10 && (await healthOfA(gw1)) === 'healthy'; n++) expect((await chat(gw1)).status).toBe(200);
    expect(await healthOfA(gw1)).not.toBe('healthy');
    for (const peer of [gw2, gw3]) {
      await pollUntil(
        () => healthOfA(peer),
        (h) => h !== 'healthy',
        2000,
      );
      expect((await providersOf(peer)).data.find((p) => p.id === 'a/mock-model')?.trippedBy).toBe('gw-1');
    }
    // The peers learned it without calling A: their traffic all goes to B.
    const before = a.stats().requests;
    for (const peer of [gw2, gw3]) for (let n = 0; n < 5; n++) expect((await chat(peer)).status).toBe(200);
    expect(a.stats().requests - before).toBeLessThanOrEqual(1); // at most the one probe of the cluster
    // While A stays down, one probe per cool-down reaches it, not one per instance.
    probesOfA = [];
    await new Promise((r) => setTimeout(r, cooldownMs * 4));
    const cycles = 4;
    expect(probesOfA.length).toBeGreaterThanOrEqual(1);
    expect(probesOfA.length).toBeLessThanOrEqual(cycles + 1);
    // A heals: the next probe, by whichever instance holds the lease, returns it to healthy everywhere.
    a.heal();
    for (const i of instances)
      await pollUntil(
        () => healthOfA(i),
        (h) => h === 'healthy',
        cooldownMs * 6,
      );
  }, 30_000);

  it('fails no request while Redis is down, shows the link degraded, and resynchronizes when it is back', async () => {
    const [gw1, gw2] = instances as [Instance, Instance, Instance];
    await redis.kill();
    await pollUntil(
      () => providersOf(gw1),
      (p) => p.cluster?.link === 'degraded',
      5000,
    );
    for (let n = 0; n < 10; n++) for (const i of instances) expect((await chat(i)).status).toBe(200);
    expect((await fetch(`${gw2.url}/readyz`)).status).toBe(200);
    await redis.restart();
    for (const i of instances)
      await pollUntil(
        () => providersOf(i),
        (p) => p.cluster?.link === 'up',
        10_000,
      );
    // A trip after the restart reaches the others again.
    a.setFaults({ mode: 'error', status: 503 });
    for (let n = 0; n < 10 && (await healthOfA(gw1)) === 'healthy'; n++) await chat(gw1);
    await pollUntil(
      () => healthOfA(gw2),
      (h) => h !== 'healthy',
      3000,
    );
    a.heal();
  }, 40_000);
});
