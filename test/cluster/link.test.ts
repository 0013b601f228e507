// The cluster link against a real Redis that dies: commands fail fast instead of hanging, the link says it is
// degraded, and it comes back by itself (resynchronizing) when Redis does.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterLink, LinkDownError, lua } from '../../src/cluster/link.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { waitUntil } from '../helpers/wait.ts';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

const ping = lua("return redis.call('PING')");

describe('cluster link', () => {
  it('lists the members that heartbeat, itself included', async () => {
    const a = createClusterLink({ url: redis.url, instanceId: 'gw-a', prefix: 'members', heartbeatMs: 50 });
    const b = createClusterLink({ url: redis.url, instanceId: 'gw-b', prefix: 'members', heartbeatMs: 50 });
    try {
      await waitUntil(() => a.members().length === 2, 3000);
      expect(
        a
          .members()
          .map((m) => m.instanceId)
          .sort(),
      ).toEqual(['gw-a', 'gw-b']);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('fails fast while Redis is gone, says degraded, and resynchronizes when it is back', async () => {
    const link = createClusterLink({ url: redis.url, instanceId: 'gw-a', prefix: 'down', openMs: 200 });
    const statuses: string[] = [];
    let resyncs = 0;
    link.onStatus((s) => statuses.push(s));
    link.onResync(() => resyncs++);
    try {
      await waitUntil(() => link.status() === 'up', 5000);
      expect(await link.script(ping, [], [])).toBe('PONG');
      const before = resyncs;
      await redis.kill();
      await waitUntil(() => link.status() === 'degraded', 3000);
      const started = Date.now();
      await expect(link.script(ping, [], [])).rejects.toBeInstanceOf(LinkDownError);
      expect(Date.now() - started).toBeLessThan(1000); // bounded: never waits for a dead Redis
      await redis.restart();
      await waitUntil(() => link.status() === 'up', 5000);
      expect(resyncs).toBeGreaterThan(before);
      expect(await link.script(ping, [], [])).toBe('PONG');
      expect(statuses).toEqual(['up', 'degraded', 'up']);
    } finally {
      await link.close();
    }
  });

  it('stops a listener that unsubscribes, and the channel with its last listener, while others go on', async () => {
    const a = createClusterLink({ url: redis.url, instanceId: 'gw-a', prefix: 'subs' });
    const b = createClusterLink({ url: redis.url, instanceId: 'gw-b', prefix: 'subs' });
    try {
      const got: string[] = [];
      const first = a.subscribe('x', (m) => got.push(`first ${m}`));
      const second = a.subscribe('x', (m) => got.push(`second ${m}`));
      const sync: string[] = [];
      a.subscribe('sync', (m) => sync.push(m));
      await Promise.all([a.ready(), b.ready()]);
      await b.publish('x', 'one');
      await waitUntil(() => got.length === 2, 3000);
      first();
      // Published one after another on one connection, delivered in order on the other: once a sync message has
      // arrived, everything published before it on x has too.
      await b.publish('x', 'two');
      await b.publish('sync', 'after two');
      await waitUntil(() => sync.includes('after two'), 3000);
      second();
      second(); // a second call changes nothing
      await b.publish('x', 'three');
      await b.publish('sync', 'after three');
      await waitUntil(() => sync.includes('after three'), 3000);
      expect(got).toEqual(['first one', 'second one', 'second two']);
      // Redis no longer holds the channel for this instance either (PUBSUB NUMSUB: its subscribers).
      const probe = new Redis(redis.url);
      try {
        expect(await probe.pubsub('NUMSUB', 'subs:x')).toEqual(['subs:x', 0]);
        expect(await probe.pubsub('NUMSUB', 'subs:sync')).toEqual(['subs:sync', 1]);
      } finally {
        probe.disconnect();
      }
      // Subscribing again after the channel was left listens again.
      const again = a.subscribe('x', (m) => got.push(`again ${m}`));
      await a.ready();
      await b.publish('x', 'four');
      await waitUntil(() => got.includes('again four'), 3000);
      again();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
