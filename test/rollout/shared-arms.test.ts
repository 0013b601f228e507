// Arm counters summed in a real Redis by two links (two instances): batched writes (no round trip per request),
// merged figures, a stale flush of a previous step that lands in its own window, and Redis going away.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterLink, createClusterLink } from '../../src/cluster/link.ts';
import type { Outcome } from '../../src/rollout/rollout.ts';
import { createSharedArms, type SharedArms } from '../../src/rollout/shared-arms.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { waitUntil } from '../helpers/wait.ts';

let redis: TestRedis;
const links: ClusterLink[] = [];
const shared: SharedArms[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 20_000);
afterEach(async () => {
  for (const s of shared.splice(0)) await s.stop();
  for (const l of links.splice(0)) await l.close();
});
afterAll(async () => {
  await redis?.stop();
});

const ok = (latencyMs: number): Outcome => ({
  ok: true,
  latencyMs,
  ttftMs: null,
  usage: { prompt_tokens: 3, completion_tokens: 5 },
  failedWith: null,
});
const failed: Outcome = { ok: false, code: 'provider_error', latencyMs: 40 };
const arms = ['baseline', 'canary'] as const;

/** An instance's link, with its Lua calls counted; flushes only when told (the timer is a minute). */
async function instance(name: string) {
  const link = createClusterLink({ url: redis.url, instanceId: name, prefix: 't' });
  links.push(link);
  await link.ready();
  let scripts = 0;
  const counted: ClusterLink = {
    ...link,
    script: (...args) => {
      scripts++;
      return link.script(...args);
    },
  };
  const s = createSharedArms(counted, { flushMs: 60_000 });
  shared.push(s);
  return { link, shared: s, scripts: () => scripts };
}

describe('arm figures summed in Redis', () => {
  it('writes a thousand outcomes in one Redis call per split, and reads the sum of both instances', async () => {
    const a = await instance('a');
    const b = await instance('b');
    const onA = a.shared.counter('t:{experiment:e}:variants', arms);
    const onB = b.shared.counter('t:{experiment:e}:variants', arms);
    const before = a.scripts();
    for (let i = 0; i < 1000; i++) onA.record('canary', ok(100));
    // Counting touched no network.
    expect(a.scripts()).toBe(before);
    await a.shared.flush();
    expect(a.scripts()).toBe(before + 1);

    for (let i = 0; i < 30; i++) onB.record('canary', failed);
    onB.record('baseline', ok(2000));
    await b.shared.flush();
    await a.shared.flush();
    for (const counter of [onA, onB]) {
      const canary = counter.figures()?.get('canary');
      expect(canary?.requests).toBe(1030);
      expect(canary?.errors).toBe(30);
      expect(canary?.errorsByCode).toEqual({ provider_error: 30 });
      expect(canary?.tokensIn).toBe(3000);
    }
    // p95 of 1000 × 100 ms and 30 × 40 ms, from the merged buckets: about 100 ms.
    const p95 = onA.figures()?.get('canary')?.latencyP95Ms ?? 0;
    expect(p95).toBeGreaterThan(90);
    expect(p95).toBeLessThanOrEqual(110);
    expect(onA.figures()?.get('baseline')?.requests).toBe(1);
  });

  it('writes what a released counter (its split stopped) counted once more, then leaves its hash alone', async () => {
    const a = await instance('a');
    const b = await instance('b');
    const gone = a.shared.counter('t:{experiment:gone}:variants', arms);
    gone.record('baseline', ok(10));
    gone.record('canary', failed);
    gone.release();
    gone.release(); // a second release changes nothing
    const before = a.scripts();
    await a.shared.flush();
    expect(a.scripts()).toBe(before + 1);
    // Counted after it was released (a request that was in flight): never written, and no call for it.
    gone.record('canary', failed);
    await a.shared.flush();
    expect(a.scripts()).toBe(before + 1);
    const reader = b.shared.counter('t:{experiment:gone}:variants', arms);
    await b.shared.flush();
    expect(reader.figures()?.get('baseline')?.requests).toBe(1);
    expect(reader.figures()?.get('canary')?.requests).toBe(1);
  });

  it('counts a flush that lands after a step change in the step it was counted in, never in the new one', async () => {
    const driver = await instance('driver');
    const late = await instance('late');
    const onDriver = driver.shared.counter('t:{rollout:r}:window:e1', arms);
    const onLate = late.shared.counter('t:{rollout:r}:window:e1', arms);
    // The late instance counts 20 canary failures in step 1 and has not flushed them yet...
    for (let i = 0; i < 20; i++) onLate.record('canary', failed);
    // ...when the driver enters step 2 and the late instance learns of it.
    onDriver.rekey('t:{rollout:r}:window:e2');
    onLate.rekey('t:{rollout:r}:window:e2');
    onLate.record('canary', ok(80));
    await late.shared.flush();
    await driver.shared.flush();
    expect(onDriver.figures()?.get('canary')).toMatchObject({ requests: 1, errors: 0 });
    // The failures are in step 1's window, where they were counted.
    const old = driver.shared.counter('t:{rollout:r}:window:e1', arms);
    await driver.shared.flush();
    expect(old.figures()?.get('canary')).toMatchObject({ requests: 20, errors: 20 });
  });

  it('says nothing while Redis is gone, keeps counting in memory, and writes the counts once it is back', async () => {
    const a = await instance('gone');
    const counter = a.shared.counter('t:{experiment:g}:variants', arms);
    counter.record('baseline', ok(10));
    await a.shared.flush();
    expect(counter.figures()?.get('baseline')?.requests).toBe(1);

    await redis.kill();
    await waitUntil(() => a.link.status() !== 'up', 3000);
    expect(counter.figures()).toBeNull();
    const calls = a.scripts();
    for (let i = 0; i < 5; i++) counter.record('baseline', ok(10));
    await a.shared.flush();
    // Nothing was sent to a Redis known to be down: no request waits on it, no count is lost.
    expect(a.scripts()).toBe(calls);

    await redis.restart();
    await waitUntil(() => a.link.status() === 'up', 5000);
    await a.shared.flush();
    // The restarted Redis kept nothing (no persistence): what it holds now is what waited in memory.
    expect(counter.figures()?.get('baseline')?.requests).toBe(5);
  }, 20_000);
});
