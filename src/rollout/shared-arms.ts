// Arm figures summed across a cluster. Each instance counts outcomes in memory (a Tally per arm: a few
// increments, no I/O on the request path) and every `flushMs` writes what it counted to one Redis hash per split
// with HINCRBY, reading the merged hash back in the same Lua call: one round trip per split per flush, whatever
// the traffic. Percentiles come from the merged fixed-bucket histograms. While Redis is unreachable the counts
// wait in memory and the figures are not `fresh`: callers then use their own instance's figures.

import { type ClusterLink, lua } from '../cluster/link.ts';
import type { Outcome } from './rollout.ts';
import type { ArmFigures } from './stats.ts';
import { figuresOf, figuresOfTally, Tally } from './tally.ts';

export interface SharedArmsOptions {
  /** How often counts are written and the merged figures read. */
  flushMs: number;
  /** A hash nobody wrote to for this long is dropped by Redis (old step windows). */
  ttlMs: number;
}

export const sharedArmsDefaults: SharedArmsOptions = { flushMs: 250, ttlMs: 86_400_000 };

// ARGV: ttl, then field/increment pairs (none: a read only). Returns the merged hash.
const flushScript = lua(`
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
if #ARGV > 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return redis.call('HGETALL', KEYS[1])`);

// Writes left under a key the counter moved away from, waiting for Redis: bounded, the oldest dropped first.
const maxLeftovers = 16;

/** One split's arms in one Redis hash. */
export interface ArmCounter {
  /** Counts an outcome in memory; the next flush writes it. */
  record(arm: string, outcome: Outcome): void;
  /** The cluster's figures per arm as last read, or null when they are not fresh (Redis unreachable or not read yet). */
  figures(): Map<string, ArmFigures> | null;
  /** The hash it writes to now. */
  key(): string;
  /**
   * Moves to another hash (a rollout's next step): what was counted so far is still written to the old one, so a
   * flush racing the change never counts in the new window.
   */
  rekey(key: string): void;
  /** Called after each read of its current hash. */
  onRead(listener: (figures: Map<string, ArmFigures>) => void): void;
  /**
   * Leaves the flushes (its split was stopped by a reload): what it counted is still written by the next one,
   * and its hash is neither written nor read after that.
   */
  release(): void;
}

interface Counter extends ArmCounter {
  take(): { key: string; generation: number; fields: (string | number)[] };
  read(generation: number, reply: unknown): void;
}

export function createSharedArms(link: ClusterLink, partial: Partial<SharedArmsOptions> = {}) {
  const o: SharedArmsOptions = {
    flushMs: partial.flushMs ?? sharedArmsDefaults.flushMs,
    ttlMs: partial.ttlMs ?? sharedArmsDefaults.ttlMs,
  };
  const staleMs = Math.max(4 * o.flushMs, 1000);
  const counters = new Set<Counter>();
  const leftovers: { key: string; fields: (string | number)[] }[] = [];
  let failures = 0;
  let running: Promise<void> | null = null;

  function counter(initialKey: string, arms: readonly string[]): ArmCounter {
    let key = initialKey;
    let generation = 0;
    let tallies = new Map<string, Tally>();
    let cache: Map<string, ArmFigures> | null = null;
    let readAt = 0;
    const listeners = new Set<(figures: Map<string, ArmFigures>) => void>();
    const fieldsOf = (t: Map<string, Tally>) => [...t].flatMap(([arm, tally]) => tally.fields(arm));
    const c: Counter = {
      record(arm, outcome) {
        let t = tallies.get(arm);
        if (!t) {
          t = new Tally();
          tallies.set(arm, t);
        }
        t.record(outcome);
      },
      figures: () => (cache && link.status() === 'up' && Date.now() - readAt <= staleMs ? cache : null),
      key: () => key,
      rekey(next) {
        if (next === key) return;
        if (tallies.size > 0) {
          leftovers.push({ key, fields: fieldsOf(tallies) });
          if (leftovers.length > maxLeftovers) leftovers.shift();
        }
        key = next;
        generation++;
        tallies = new Map();
        // Nothing is known of the new window but that it starts empty.
        if (cache) cache = new Map(arms.map((a) => [a, figuresOfTally(new Tally())]));
        void flush();
      },
      onRead: (listener) => void listeners.add(listener),
      release() {
        if (!counters.delete(c)) return;
        if (tallies.size > 0) {
          leftovers.push({ key, fields: fieldsOf(tallies) });
          if (leftovers.length > maxLeftovers) leftovers.shift();
        }
        tallies = new Map();
        listeners.clear();
      },
      take() {
        const fields = fieldsOf(tallies);
        tallies = new Map();
        return { key, generation, fields };
      },
      read(at, reply) {
        // A reply for the hash it left (a step changed meanwhile) says nothing about the current window.
        if (at !== generation || !Array.isArray(reply)) return;
        cache = figuresOf(reply.map(String), arms);
        readAt = Date.now();
        for (const l of listeners) l(cache);
      },
    };
    counters.add(c);
    return c;
  }

  async function once() {
    // Unreachable: keep counting in memory, send nothing (the link's own circuit says when to try again).
    if (link.status() !== 'up') return;
    const sends: Promise<unknown>[] = [];
    for (const left of leftovers.splice(0)) {
      sends.push(link.script(flushScript, [left.key], [o.ttlMs, ...left.fields]).catch(() => failures++));
    }
    for (const c of counters) {
      const { key, generation, fields } = c.take();
      // ioredis writes these calls back to back on one connection: one round trip for them all.
      sends.push(
        link.script(flushScript, [key], [o.ttlMs, ...fields]).then(
          (reply) => c.read(generation, reply),
          // A timed-out write may have landed: counted once at most, never twice.
          () => failures++,
        ),
      );
    }
    await Promise.all(sends);
  }

  let queued: Promise<void> | null = null;
  /** Writes what was counted and reads the merged figures; one at a time (a call during a flush runs after it). */
  function flush(): Promise<void> {
    if (!running) {
      // A listener that threw (the rollout's actor judging) is one more failed flush, never an unhandled rejection.
      running = once()
        .catch(() => {
          failures++;
        })
        .finally(() => {
          running = null;
        });
      return running;
    }
    queued ??= running.then(() => {
      queued = null;
      return flush();
    });
    return queued;
  }

  const timer = setInterval(() => void flush(), o.flushMs);
  timer.unref();
  link.onResync(() => void flush());

  return {
    counter,
    flush,
    /** Writes that failed (Redis slow or gone): their counts are lost to the cluster, not to this instance. */
    failures: () => failures,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}

export type SharedArms = ReturnType<typeof createSharedArms>;
