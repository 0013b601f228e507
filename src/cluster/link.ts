// The cluster link: this instance's connection to the Redis that its peers share. Two connections (commands,
// and pub/sub, which Redis dedicates), bounded command time, and a small circuit of its own, so that a slow or
// dead Redis costs a request at most one timeout and then nothing until it answers again. Whatever uses the
// link falls back to local state while it is not `up`; on reconnect, `onResync` callbacks catch up.

import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { RedisOptions } from 'ioredis';

// ioredis is loaded when a link is made, not when this module is: a process without a cluster never loads it.
const require = createRequire(import.meta.url);
const loadRedis = () => (require('ioredis') as typeof import('ioredis')).Redis;

export type LinkStatus = 'connecting' | 'up' | 'degraded';

export interface ClusterLinkOptions {
  /** `redis://host:port/db` (or `rediss://`). */
  url: string;
  /** This instance's id in the cluster (events carry it); random by default. */
  instanceId?: string;
  /** Prefix of every key and channel, so several clusters can share one Redis. */
  prefix?: string;
  /** A command that takes longer fails (and counts against the link). */
  commandTimeoutMs?: number;
  /** Failures in a row after which the link stops sending for `openMs`. */
  openAfterFailures?: number;
  openMs?: number;
  /** How often this instance says it is alive, and after how long a silent member is gone. */
  heartbeatMs?: number;
  memberTtlMs?: number;
}

export const clusterLinkDefaults = {
  prefix: 'switchyard',
  commandTimeoutMs: 250,
  openAfterFailures: 3,
  openMs: 1000,
  heartbeatMs: 1000,
  memberTtlMs: 5000,
} as const;

/** A Lua script, run by its SHA once Redis knows it. */
export interface LuaScript {
  source: string;
  sha: string;
}

export function lua(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

export interface ClusterMember {
  instanceId: string;
  lastSeenAt: number;
}

export class LinkDownError extends Error {
  constructor(reason: string) {
    super(`cluster link down: ${reason}`);
    this.name = 'LinkDownError';
  }
}

// Heartbeats in a sorted set scored by Redis' own time, so members' clocks do not matter.
const heartbeatScript = lua(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
`);

export function createClusterLink(options: ClusterLinkOptions) {
  const o = { ...clusterLinkDefaults, ...options };
  const instanceId = options.instanceId ?? `sy-${randomUUID().slice(0, 8)}`;
  const Redis = loadRedis();
  const connection: RedisOptions = {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: Math.max(1000, o.commandTimeoutMs * 4),
    // Reconnect quickly, then every second: Redis coming back must be noticed without a restart.
    retryStrategy: (times: number) => Math.min(1000, 50 * times),
  };
  const commands = new Redis(o.url, connection);
  const subscriber = new Redis(o.url, { ...connection, enableOfflineQueue: true, commandTimeout: undefined });
  // ioredis reports connection errors as events; they are what `status` is for, not crashes.
  commands.on('error', () => {});
  subscriber.on('error', () => {});

  let status: LinkStatus = 'connecting';
  let failures = 0;
  let openUntil = 0;
  let closed = false;
  let members: ClusterMember[] = [];
  const statusListeners = new Set<(status: LinkStatus) => void>();
  const resyncListeners = new Set<() => void>();
  const channelListeners = new Map<string, Set<(message: string) => void>>();
  const subscriptions: Promise<unknown>[] = [];
  const resync = () => {
    if (status === 'up') for (const l of resyncListeners) l();
  };

  const setStatus = (next: LinkStatus) => {
    if (next === status || closed) return;
    const wasUp = status === 'up';
    status = next;
    for (const l of statusListeners) l(next);
    if (next === 'up' && !wasUp) for (const l of resyncListeners) l();
  };
  commands.on('ready', () => {
    failures = 0;
    openUntil = 0;
    setStatus('up');
  });
  commands.on('close', () => setStatus(status === 'connecting' ? 'connecting' : 'degraded'));
  // A fact published while this instance was not yet (or no longer) subscribed is only in the shared keys:
  // read them again once the subscriptions stand (ioredis resubscribes on its own after a reconnect).
  subscriber.on('ready', () => void Promise.allSettled(subscriptions).then(resync));
  subscriber.on('message', (channel: string, message: string) => {
    for (const l of channelListeners.get(channel) ?? []) l(message);
  });

  const fail = (err: unknown): never => {
    failures++;
    if (failures >= o.openAfterFailures) {
      openUntil = Date.now() + o.openMs;
      setStatus('degraded');
    }
    throw err instanceof LinkDownError ? err : new LinkDownError(err instanceof Error ? err.message : String(err));
  };
  const succeed = <T>(value: T): T => {
    failures = 0;
    if (commands.status === 'ready') setStatus('up');
    return value;
  };
  /** Runs `op` unless the link's circuit is open; counts its outcome. */
  async function guarded<T>(op: () => Promise<T>): Promise<T> {
    if (closed) throw new LinkDownError('closed');
    if (Date.now() < openUntil) throw new LinkDownError('waiting before trying again');
    if (commands.status !== 'ready') return fail(new LinkDownError(`redis ${commands.status}`));
    try {
      return succeed(await op());
    } catch (err) {
      return fail(err);
    }
  }

  async function script(s: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return guarded(async () => {
      try {
        return await commands.evalsha(s.sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return commands.eval(s.source, keys.length, ...keys, ...args);
      }
    });
  }

  const membersKey = `${o.prefix}:{members}`;
  async function heartbeat() {
    const reply = (await script(heartbeatScript, [membersKey], [instanceId, o.memberTtlMs]).catch(() => null)) as string[] | null;
    if (!reply) return;
    const next: ClusterMember[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) next.push({ instanceId: reply[i] ?? '', lastSeenAt: Number(reply[i + 1]) });
    members = next;
  }
  const beat = setInterval(() => void heartbeat(), o.heartbeatMs);
  beat.unref();
  resyncListeners.add(() => void heartbeat());

  return {
    instanceId,
    prefix: o.prefix,
    status: () => status,
    /** The members seen at the last heartbeat (this one included), with when each was last seen. */
    members: () => members,
    script,
    publish: (channel: string, message: string) => guarded(() => commands.publish(`${o.prefix}:${channel}`, message)).then(() => {}),
    /**
     * Listens on a channel (resubscribed by ioredis after a reconnect) until the returned function is called; the
     * channel itself is unsubscribed when its last listener leaves.
     */
    subscribe(channel: string, listener: (message: string) => void): () => void {
      const name = `${o.prefix}:${channel}`;
      let set = channelListeners.get(name);
      if (!set) {
        set = new Set();
        channelListeners.set(name, set);
        const subscribed = subscriber.subscribe(name).then(resync, () => {});
        subscriptions.push(subscribed);
      }
      const listeners = set;
      listeners.add(listener);
      return () => {
        if (!listeners.delete(listener) || listeners.size > 0) return;
        channelListeners.delete(name);
        void subscriber.unsubscribe(name).catch(() => {});
      };
    },
    /** Resolves once commands can be sent and every channel subscribed so far is listened to. */
    async ready(): Promise<void> {
      for (let i = 0; i < 100 && !(status === 'up' && subscriber.status === 'ready'); i++) await new Promise((r) => setTimeout(r, 20));
      await Promise.allSettled(subscriptions);
    },
    onStatus(listener: (status: LinkStatus) => void) {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    /** Called whenever the link comes up (first connect and every reconnect): read back shared state. */
    onResync(listener: () => void) {
      resyncListeners.add(listener);
      if (status === 'up') listener();
      return () => resyncListeners.delete(listener);
    },
    async close() {
      closed = true;
      clearInterval(beat);
      await Promise.allSettled([commands.quit(), subscriber.quit()]);
      commands.disconnect();
      subscriber.disconnect();
    },
  };
}

export type ClusterLink = ReturnType<typeof createClusterLink>;
