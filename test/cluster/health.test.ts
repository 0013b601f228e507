// Shared health on a real Redis: three instances' provider actors learn one another's trips, probe one at a
// time under the lease, recover together, and a late joiner reads the trip still in force.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Actor, createActor, fromPromise } from 'xstate';
import { createSharedHealth, type SharedHealth } from '../../src/cluster/health.ts';
import { type ClusterLink, createClusterLink } from '../../src/cluster/link.ts';
import { healthOf } from '../../src/provider/health.ts';
import { providerMachine } from '../../src/provider/machine.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { waitUntil } from '../helpers/wait.ts';

const deployment = 'up/model';
const health = { backoff: { kind: 'fixed', initialMs: 300, maxMs: 300, jitter: 'none' }, probeIdleMs: 60_000 } as const;

interface Instance {
  link: ClusterLink;
  shared: SharedHealth;
  actor: Actor<typeof providerMachine>;
}

let redis: TestRedis;
let live: Instance[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const i of live) i.actor.stop();
  await Promise.all(live.map((i) => i.link.close()));
  live = [];
});
afterAll(async () => {
  await redis.stop();
});

async function instance(name: string, prefix: string): Promise<Instance> {
  const link = createClusterLink({ url: redis.url, instanceId: name, prefix });
  let actor: Actor<typeof providerMachine> | undefined;
  const shared = createSharedHealth(link, { actorOf: () => actor, deployments: () => [deployment], now: Date.now }, { probeLeaseMs: 1000 });
  const logic = providerMachine.provide({
    actions: {
      claimProbe: ({ context }) => shared.claimProbe(context.id),
      announceTrip: ({ context }) => shared.announceTrip(context.id, context.nextProbeAt),
      announceRecovery: ({ context }) => shared.announceRecovery(context.id),
    },
    actors: { healthProbe: fromPromise(() => new Promise<void>(() => {})) },
  });
  actor = createActor(logic, { input: { id: deployment, clustered: true, health } }).start();
  await waitUntil(() => link.status() === 'up', 5000);
  await link.ready();
  const made = { link, shared, actor };
  live.push(made);
  return made;
}

const state = (i: Instance) => healthOf(i.actor.getSnapshot());
const sub = (i: Instance) => JSON.stringify(i.actor.getSnapshot().value);

describe('shared health', () => {
  it("reaches every instance within 100 ms of a trip, with the tripping instance's deadline", async () => {
    const [a, b, c] = await Promise.all(['gw-a', 'gw-b', 'gw-c'].map((n) => instance(n, 'reach')));
    if (!a || !b || !c) throw new Error('instances');
    // When each peer's actor moved, taken from the actor itself rather than by polling.
    const reached = new Map<Instance, number>();
    for (const peer of [b, c]) {
      peer.actor.subscribe((snapshot) => {
        if (!reached.has(peer) && healthOf(snapshot) === 'coolingDown') reached.set(peer, performance.now());
      });
    }
    const trippedAt = performance.now();
    a.actor.send({ type: 'circuit.tripped', at: Date.now() });
    await waitUntil(() => reached.size === 2, 1000);
    for (const at of reached.values()) expect(at - trippedAt).toBeLessThan(100);
    const until = a.actor.getSnapshot().context.nextProbeAt ?? 0;
    for (const peer of [b, c]) {
      expect(peer.actor.getSnapshot().context.trippedBy).toBe('gw-a');
      expect(Math.abs((peer.actor.getSnapshot().context.nextProbeAt ?? 0) - until)).toBeLessThan(50);
    }
  });

  it('lets exactly one instance probe, then recovers all of them on its success', async () => {
    const all = await Promise.all(['gw-a', 'gw-b', 'gw-c'].map((n) => instance(n, 'probe')));
    all[0]?.actor.send({ type: 'circuit.tripped', at: Date.now() });
    await waitUntil(() => all.every((i) => state(i) === 'coolingDown'), 1000);
    // After the cool-down each claims the probe: one holds it, the others wait for its verdict.
    await waitUntil(() => all.every((i) => sub(i).includes('waiting') || sub(i).includes('awaitingPeer')), 3000);
    const holders = all.filter((i) => sub(i).includes('"probing":"waiting"'));
    expect(holders).toHaveLength(1);
    const holder = holders[0];
    if (!holder) return;
    const at = Date.now();
    holder.actor.send({ type: 'probe.started', at });
    holder.actor.send({ type: 'call.succeeded', at, probe: true, latencyMs: 5, window: { calls: 1, failures: 0, slowCalls: 0 } });
    await waitUntil(() => all.every((i) => state(i) === 'healthy'), 1000);
  });

  it("cools every instance down again when the holder's probe fails, with the longer deadline", async () => {
    const all = await Promise.all(['gw-a', 'gw-b'].map((n) => instance(n, 'again')));
    all[0]?.actor.send({ type: 'circuit.tripped', at: Date.now() });
    await waitUntil(() => all.every((i) => sub(i).includes('waiting') || sub(i).includes('awaitingPeer')), 3000);
    const holder = all.find((i) => sub(i).includes('"probing":"waiting"'));
    const other = all.find((i) => i !== holder);
    if (!holder || !other) throw new Error('no holder');
    const at = Date.now();
    holder.actor.send({ type: 'probe.started', at });
    const error = { code: 'provider_unavailable', retryable: true, message: 'down' };
    holder.actor.send({ type: 'call.failed', at, probe: true, latencyMs: 5, error, window: { calls: 1, failures: 1, slowCalls: 0 } });
    await waitUntil(() => sub(other).includes('coolingDown'), 1000);
    expect(
      Math.abs((other.actor.getSnapshot().context.nextProbeAt ?? 0) - (holder.actor.getSnapshot().context.nextProbeAt ?? 0)),
    ).toBeLessThan(50);
  });

  it('tells an instance that joins late of a trip still in force', async () => {
    const a = await instance('gw-a', 'late');
    a.actor.send({ type: 'circuit.tripped', at: Date.now() });
    await new Promise((r) => setTimeout(r, 50));
    const late = await instance('gw-late', 'late');
    await waitUntil(() => state(late) === 'coolingDown', 1000);
    expect(late.actor.getSnapshot().context.trippedBy).toBe('gw-a');
  });
});
