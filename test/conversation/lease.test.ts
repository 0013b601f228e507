// The write leases of conversation actors, on a SimulatedClock: renewed every third of the lease while held,
// never after a release, and given up for good when another instance took the lease.

import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createLeases } from '../../src/conversation/lease.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';

/** A memory store that records its lease calls and can be told that another instance took the lease. */
async function recordingStore() {
  const inner = createMemoryStore();
  await inner.create({ id: 'c1', model: 'chat', system: null, systemTokens: 0, strategy: 'sliding', createdAt: 0, summary: null });
  const calls: string[] = [];
  const state = { takenElsewhere: false };
  const store = {
    ...inner,
    async acquireLease(id: string, ttlMs: number) {
      calls.push(`acquire ${id} ${ttlMs}`);
      if (state.takenElsewhere) throw new SwitchyardError('conversation_moved', 'taken');
      return 1;
    },
    async releaseLease(id: string) {
      calls.push(`release ${id}`);
    },
  };
  return { store, calls, state };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('conversation write leases', () => {
  it('renews a held lease every third of its time, and not after it is released', async () => {
    const { store, calls } = await recordingStore();
    const clock = new SimulatedClock();
    const leases = createLeases({ store, timers: clock, leaseMs: 900 });
    expect(await leases.acquire('c1')).toBe(1);
    clock.increment(299);
    await settle();
    expect(calls).toEqual(['acquire c1 900']);
    clock.increment(1);
    await settle();
    expect(calls).toEqual(['acquire c1 900', 'acquire c1 900']);
    await leases.release('c1');
    clock.increment(3000);
    await settle();
    expect(calls).toEqual(['acquire c1 900', 'acquire c1 900', 'release c1']);
  });

  it('stops renewing once another instance holds the lease', async () => {
    const { store, calls, state } = await recordingStore();
    const clock = new SimulatedClock();
    const leases = createLeases({ store, timers: clock, leaseMs: 900 });
    await leases.acquire('c1');
    state.takenElsewhere = true;
    clock.increment(300);
    await settle();
    clock.increment(3000);
    await settle();
    expect(calls).toEqual(['acquire c1 900', 'acquire c1 900']);
  });

  it('runs the lease calls of one conversation in order: a release never overtakes the acquire after it', async () => {
    const { store, calls } = await recordingStore();
    const slow = {
      ...store,
      releaseLease: async (id: string) => {
        await settle();
        await store.releaseLease(id);
      },
    };
    const leases = createLeases({ store: slow, timers: new SimulatedClock(), leaseMs: 900 });
    await leases.acquire('c1');
    const released = leases.release('c1');
    const taken = leases.acquire('c1');
    await Promise.all([released, taken]);
    expect(calls).toEqual(['acquire c1 900', 'release c1', 'acquire c1 900']);
    leases.stop();
  });
});
