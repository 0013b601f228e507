// Shared health: what one instance learns of a deployment reaches every instance. A trip is published (pub/sub,
// for speed) and kept as a key holding the latest deadline (for instances that join or reconnect later); the
// later deadline always wins. A recovery is published and clears the key. Only one instance at a time probes a
// deployment, under a lease (SET NX PX). Facts arrive at the provider actors as events; the machine decides.

import type { ProviderRef } from '../provider/machine.ts';
import { type ClusterLink, lua } from './link.ts';

type Fact =
  | { type: 'tripped'; deployment: string; instance: string; at: number; until: number }
  | { type: 'recovered'; deployment: string; instance: string; at: number };

/** Where each deployment's actor is and this process's clock, which may run apart from wall time. */
export interface SharedHealthTarget {
  actorOf(deployment: string): ProviderRef | undefined;
  deployments(): Iterable<string>;
  /** The actors' clock (wall time in production, a SimulatedClock in some tests). */
  now(): number;
}

export interface SharedHealthOptions {
  /** How long a probe lease lasts: a holder that dies frees it after this. */
  probeLeaseMs: number;
}

// Keeps the later of two deadlines; a key outlives its deadline by a little so late readers can see it ended.
const tripScript = lua(`
local current = redis.call('GET', KEYS[1])
if current then
  local deadline = tonumber(cjson.decode(current)['until'])
  if deadline >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`);

// Clears a trip only if it began before the recovery: a newer trip by another instance stands.
const recoverScript = lua(`
local current = redis.call('GET', KEYS[1])
if current and tonumber(cjson.decode(current).at) <= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end
redis.call('DEL', KEYS[2])
return 1
`);

const readScript = lua(`return redis.call('GET', KEYS[1])`);
const releaseScript = lua(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`);

// Takes the lease, or says who holds it and for how long.
const claimScript = lua(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, ARGV[1], tonumber(ARGV[2])} end
return {0, redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}
`);

export function createSharedHealth(link: ClusterLink, target: SharedHealthTarget, options: SharedHealthOptions) {
  const deadlineKey = (id: string) => `${link.prefix}:{dep:${id}}:deadline`;
  const leaseKey = (id: string) => `${link.prefix}:{dep:${id}}:probe`;
  // Facts carry wall-clock times; the actors' clock may differ (tests), so convert at the edges.
  const toWall = (local: number) => Date.now() + (local - target.now());
  const toLocal = (wall: number) => target.now() + (wall - Date.now());
  /** When each fact reached this instance, by deployment: the inspector's "who tripped what". */
  const lastRemote = new Map<string, Fact & { receivedAt: number }>();

  const deliver = (fact: Fact) => {
    if (fact.instance === link.instanceId) return;
    const actor = target.actorOf(fact.deployment);
    if (!actor) return;
    lastRemote.set(fact.deployment, { ...fact, receivedAt: Date.now() });
    const at = target.now();
    if (fact.type === 'tripped') actor.send({ type: 'cluster.tripped', at, until: toLocal(fact.until), instance: fact.instance });
    else actor.send({ type: 'cluster.recovered', at, instance: fact.instance });
  };

  link.subscribe('health', (message) => {
    let fact: Fact;
    try {
      fact = JSON.parse(message) as Fact;
    } catch {
      return; // not ours
    }
    if (typeof fact?.deployment === 'string' && typeof fact.instance === 'string') deliver(fact);
  });

  // Late joiners and reconnects: the deadline keys hold the trips still in force.
  const resync = () => {
    for (const id of target.deployments()) {
      void link
        .script(readScript, [deadlineKey(id)], [])
        .then((value) => {
          if (typeof value !== 'string') return;
          const stored = JSON.parse(value) as { instance: string; at: number; until: number };
          if (stored.until > Date.now()) deliver({ type: 'tripped', deployment: id, ...stored });
        })
        .catch(() => {});
    }
  };
  link.onResync(resync);

  return {
    /** Reads the trips in force again (the link does on every reconnect; the runtime once its actors exist). */
    resync,
    /** This instance tripped `deployment` until `nextProbeAt` (actors' clock): tell the cluster. */
    announceTrip(deployment: string, nextProbeAt: number | null) {
      if (nextProbeAt === null) return;
      const at = Date.now();
      const fact: Fact = { type: 'tripped', deployment, instance: link.instanceId, at, until: toWall(nextProbeAt) };
      const ttl = Math.max(1, fact.until - at) + 5000;
      const value = JSON.stringify({ instance: fact.instance, at, until: fact.until });
      void link.script(tripScript, [deadlineKey(deployment)], [value, fact.until, ttl]).catch(() => {});
      void releaseLease(deployment);
      void link.publish('health', JSON.stringify(fact)).catch(() => {});
    },
    /** This instance's probe of `deployment` succeeded: every instance may send to it again. */
    announceRecovery(deployment: string) {
      const at = Date.now();
      void link.script(recoverScript, [deadlineKey(deployment), leaseKey(deployment)], [at]).catch(() => {});
      void link.publish('health', JSON.stringify({ type: 'recovered', deployment, instance: link.instanceId, at })).catch(() => {});
    },
    /**
     * Claims the cluster's one probe of `deployment`. Without Redis the instance probes on its own: the link
     * being down must not keep a deployment from recovering.
     */
    claimProbe(deployment: string) {
      const actor = target.actorOf(deployment);
      if (!actor) return;
      link
        .script(claimScript, [leaseKey(deployment)], [link.instanceId, options.probeLeaseMs])
        .then((reply) => {
          const [granted, holder, ttl] = reply as [number, string, number];
          const at = target.now();
          if (granted === 1 || holder === link.instanceId) actor.send({ type: 'probe.leaseGranted', at });
          else actor.send({ type: 'probe.leaseDenied', at, holder, until: at + Math.max(0, Number(ttl)) });
        })
        .catch(() => actor.send({ type: 'probe.leaseGranted', at: target.now() }));
    },
    /** The last fact each deployment got from a peer. */
    lastRemote: (deployment: string) => lastRemote.get(deployment),
  };

  function releaseLease(deployment: string) {
    return link.script(releaseScript, [leaseKey(deployment)], [link.instanceId]).catch(() => {});
  }
}

export type SharedHealth = ReturnType<typeof createSharedHealth>;
