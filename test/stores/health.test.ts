// The store's write health as the runtime reports it: an untyped failure becomes store_unavailable and makes
// the store unwritable; a later successful write, or the store's own probe, makes it writable again.

import { describe, expect, it } from 'vitest';
import { trackStore } from '../../src/stores/health.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { ConversationStore } from '../../src/stores/types.ts';

/** A memory store whose writes fail while `broken` is set (a disk that comes back). */
function flakyStore() {
  const inner = createMemoryStore();
  const state = { broken: false, probes: 0 };
  const fail = () => {
    if (state.broken) throw new Error('SQLITE_IOERR: disk I/O error');
  };
  const store: ConversationStore = {
    ...inner,
    create: async (c) => {
      fail();
      return inner.create(c);
    },
    probe: async () => {
      state.probes++;
      fail();
    },
  };
  return { store, state };
}

const record = (id: string) => ({
  id,
  model: 'chat',
  system: null,
  systemTokens: 0,
  strategy: 'sliding' as const,
  createdAt: 1,
  summary: null,
});

describe('store health', () => {
  it('turns an untyped write failure into store_unavailable and reports the store unwritable', async () => {
    const { store, state } = flakyStore();
    const tracked = trackStore(store, () => 0);
    state.broken = true;
    await expect(tracked.store.create(record('a'))).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(await tracked.status()).toMatchObject({ writable: false, error: expect.stringContaining('disk I/O error') });
  });

  it('becomes writable again when a probe write succeeds, probing at most once a second', async () => {
    const { store, state } = flakyStore();
    let now = 0;
    const tracked = trackStore(store, () => now);
    state.broken = true;
    await tracked.store.create(record('a')).catch(() => {});
    expect((await tracked.status()).writable).toBe(false);
    expect((await tracked.status()).writable).toBe(false);
    expect(state.probes).toBe(1);
    state.broken = false;
    now = 500;
    expect((await tracked.status()).writable).toBe(false);
    now = 1000;
    expect((await tracked.status()).writable).toBe(true);
    expect(state.probes).toBe(2);
  });

  it('passes typed errors through without marking the store unwritable', async () => {
    const tracked = trackStore(createMemoryStore());
    await tracked.store.create(record('a'));
    await expect(tracked.store.create(record('a'))).rejects.toMatchObject({ code: 'conversation_exists' });
    expect((await tracked.status()).writable).toBe(true);
  });
});
