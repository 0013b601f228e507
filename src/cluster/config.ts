// The config a cluster shares: a reload on any instance is checked there, stored in Redis under the next
// version number (one Lua call: INCR, then the config beside it) and announced on pub/sub; every instance reads
// it back, checks it against its own environment and applies it, or keeps its config and says why (its config
// status, the inspector's event log, switchyard_config_reloads_total{result="rejected"}). An instance that
// joins or reconnects reads the stored config and adopts it when it is newer than its own.

import { type ClusterLink, lua } from './link.ts';

/** What applies a config on this instance (src/reload/reloader.ts), as this module needs it. */
export interface SharedConfigTarget<S extends string, R> {
  status(): { version: number; rejected: { version: number | null } | null };
  /** Throws (and records why) when `input` is not a valid config. */
  check(input: unknown, source: S): unknown;
  reload(input: unknown, source: S | 'cluster', version?: number): R;
}

const storeScript = lua(`
local version = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], 'version', version, 'config', ARGV[1], 'instance', ARGV[2])
return version
`);
const readScript = lua(`return redis.call('HMGET', KEYS[1], 'version', 'config')`);

export interface ConfigSync<S extends string, R> {
  /** Checks `input`, stores it as the cluster's next version, applies it here and tells the other instances. */
  publish(input: unknown, source: S): Promise<R & { shared: boolean }>;
  /** Reads the stored config and applies it when it is newer than the one in use. */
  catchUp(): Promise<void>;
}

export function createConfigSync<S extends string, R>(link: ClusterLink, reloader: SharedConfigTarget<S, R>): ConfigSync<S, R> {
  const versionKey = `${link.prefix}:{config}:version`;
  const bodyKey = `${link.prefix}:{config}:body`;
  // Versions this instance is applying itself: their announcement needs nothing more here.
  const own = new Set<number>();

  async function catchUp() {
    const reply = (await link.script(readScript, [bodyKey], []).catch(() => null)) as [string | null, string | null] | null;
    const version = Number(reply?.[0] ?? 0);
    const body = reply?.[1];
    if (!body || !(version > reloader.status().version) || own.has(version)) return;
    // The same broken config is reported once, not at every reconnect.
    if (reloader.status().rejected?.version === version) return;
    try {
      reloader.reload(JSON.parse(body), 'cluster', version);
    } catch {
      // Recorded by the reloader (status, event log, metric): this instance keeps the config it has.
    }
  }

  link.subscribe('config', () => void catchUp());
  link.onResync(() => void catchUp());

  // Reloads sent to this instance run one at a time, in the order Redis numbered them. Between instances, a
  // config applied here after a newer one from a peer is corrected by the announcement that follows it: every
  // announcement makes each instance read the stored (newest) config.
  let queue: Promise<unknown> = Promise.resolve();

  return {
    catchUp,
    publish(input, source) {
      const run = queue.then(() => publishNow(input, source));
      queue = run.catch(() => {});
      return run;
    },
  };

  async function publishNow(input: unknown, source: S): Promise<R & { shared: boolean }> {
    // Checked here first: a config this instance refuses never reaches the others.
    reloader.check(input, source);
    let version: number;
    try {
      version = Number(await link.script(storeScript, [versionKey, bodyKey], [JSON.stringify(input), link.instanceId]));
    } catch {
      // Redis unreachable: applied here only, and said so; the next config shared through Redis wins.
      return { ...reloader.reload(input, source), shared: false };
    }
    own.add(version);
    try {
      const result = reloader.reload(input, source, version);
      void link.publish('config', String(version)).catch(() => {});
      return { ...result, shared: true };
    } finally {
      own.delete(version);
    }
  }
}
