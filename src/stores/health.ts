// Whether the conversation store can write, as the runtime reports it (/readyz). Every store call goes through
// here: a failure that is not already a typed error (an SQLite I/O error, a read-only or deleted file, an
// embedder's store throwing) becomes 503 store_unavailable instead of a 500, and marks the store unwritable
// until a write succeeds again, either a real one or the store's own probe.

import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import type { ConversationStore } from './types.ts';

export interface StoreStatus {
  writable: boolean;
  /** Why the last write failed, while the store is unwritable. */
  error: string | null;
}

/** At most one probe write per this many ms while the store is unwritable (readiness checks may be frequent). */
const probeEveryMs = 1000;

const writes = [
  'create',
  'appendUser',
  'completeTurn',
  'failTurn',
  'restartTurn',
  'saveSummary',
  'delete',
  'appendMessages',
  'setMetadata',
  'deleteMessage',
] as const;
const leases = ['acquireLease', 'releaseLease'] as const;

export function trackStore(inner: ConversationStore, now: () => number = Date.now) {
  const status: StoreStatus = { writable: true, error: null };
  let probedAt = Number.NEGATIVE_INFINITY;

  const typed = (err: unknown, what: string): SwitchyardError => {
    if (isSwitchyardError(err)) return err;
    const reason = err instanceof Error ? err.message : String(err);
    return new SwitchyardError('store_unavailable', `the conversation store cannot ${what}: ${reason}`, { cause: err });
  };
  const failed = (err: SwitchyardError) => {
    if (err.code === 'store_unavailable') {
      status.writable = false;
      status.error = err.message;
    }
  };
  const succeeded = () => {
    status.writable = true;
    status.error = null;
  };

  // Built method by method (not spread): a store written as a class keeps its methods on the prototype.
  const inspectable = inner.probe ? { probe: () => inner.probe?.() ?? Promise.resolve() } : {};
  const store = { close: () => inner.close(), ...inspectable } as ConversationStore;
  const asWrite =
    (method: (...args: unknown[]) => Promise<unknown>) =>
    async (...args: unknown[]) => {
      try {
        const result = await method(...args);
        succeeded();
        return result;
      } catch (err) {
        const e = typed(err, 'write');
        failed(e);
        throw e;
      }
    };
  // Leases are writes too (a store that cannot take one cannot write), but optional in the contract.
  for (const name of [...writes, ...leases]) {
    const method = inner[name]?.bind(inner) as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (method) (store as unknown as Record<string, unknown>)[name] = asWrite(method);
  }
  store.load = async (id) => {
    try {
      return await inner.load(id);
    } catch (err) {
      throw typed(err, 'read');
    }
  };
  store.countByTenant = async (tenant) => {
    try {
      return await inner.countByTenant(tenant);
    } catch (err) {
      throw typed(err, 'read');
    }
  };

  return {
    store,
    /** The store's status; while it is unwritable, a probe write (at most once a second) may find it healed. */
    async status(): Promise<StoreStatus> {
      if (status.writable || !inner.probe || now() - probedAt < probeEveryMs) return { ...status };
      probedAt = now();
      try {
        await inner.probe();
        succeeded();
      } catch (err) {
        failed(typed(err, 'write'));
      }
      return { ...status };
    },
  };
}
