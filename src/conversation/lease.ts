// The write leases of this instance's conversation actors (on stores shared by instances, e.g. Postgres): taken
// before a turn, renewed while the actor works, given up when it goes idle so that the next turn may run on
// any instance. The fence is the store's: this only keeps the lease while it is needed. Lease calls of one
// conversation run in order, so a release never overtakes the acquire that followed it.

import { isSwitchyardError } from '../errors.ts';
import type { ConversationStore } from '../stores/types.ts';
import { type Timers, unrefTimer } from '../timers.ts';

interface LeaseState {
  chain: Promise<unknown>;
  renew: unknown;
  ops: number;
}

export function createLeases(options: { store: ConversationStore; timers: Timers; leaseMs: number }) {
  const { store, timers, leaseMs } = options;
  const states = new Map<string, LeaseState>();

  const stateOf = (id: string): LeaseState => {
    let state = states.get(id);
    if (!state) {
      state = { chain: Promise.resolve(), renew: undefined, ops: 0 };
      states.set(id, state);
    }
    return state;
  };
  const serial = <T>(id: string, op: () => Promise<T>): Promise<T> => {
    const state = stateOf(id);
    state.ops++;
    const next = state.chain.then(op, op);
    state.chain = next
      .catch(() => {})
      .finally(() => {
        // Nothing queued and nothing to renew: forget the conversation.
        if (--state.ops === 0 && state.renew === undefined && states.get(id) === state) states.delete(id);
      });
    return next;
  };
  const stopRenewing = (state: LeaseState) => {
    if (state.renew !== undefined) timers.clearTimeout(state.renew);
    state.renew = undefined;
  };
  const renewLater = (id: string) => {
    const state = stateOf(id);
    stopRenewing(state);
    state.renew = timers.setTimeout(
      () => {
        state.renew = undefined;
        acquire(id).catch((err: unknown) => {
          // Another instance has it: stop renewing (this instance's next write is fenced). Store down: retry.
          if (!(isSwitchyardError(err) && err.code === 'conversation_moved')) renewLater(id);
        });
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    );
    unrefTimer(state.renew);
  };

  /** Takes or renews the lease; its fencing token, or undefined when the store has no leases. */
  async function acquire(id: string): Promise<number | undefined> {
    const take = store.acquireLease?.bind(store);
    if (!take) return undefined;
    const token = await serial(id, () => take(id, leaseMs));
    renewLater(id);
    return token;
  }

  /** Gives the lease up; a failure only lets it expire on its own. */
  async function release(id: string): Promise<void> {
    const give = store.releaseLease?.bind(store);
    const state = states.get(id);
    if (!give || !state) return;
    stopRenewing(state);
    await serial(id, () => give(id)).catch(() => {});
  }

  return {
    acquire,
    release,
    /** Stops every renewal (the runtime is stopping); leases then expire on their own. */
    stop() {
      for (const state of states.values()) stopRenewing(state);
      states.clear();
    },
  };
}
