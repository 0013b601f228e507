// Conversation actors in memory: one per conversation id, activated from the store on demand and stopped
// (passivated) after `idleMs` without a turn, so memory is bounded by active conversations. The idle timers
// run on the injected timers (real ones by default). On a store shared by instances, a turn runs under the
// conversation's write lease (lease.ts): an actor whose lease changed hands since it loaded is reloaded.

import { type Actor, createActor, type InspectionEvent } from 'xstate';
import { SwitchyardError } from '../errors.ts';
import type { Encoding } from '../models/tokens.ts';
import type { ConversationStore, StoredConversation } from '../stores/types.ts';
import { type Timers, unrefTimer } from '../timers.ts';
import { createLeases } from './lease.ts';
import type { ConversationInput, conversationMachine, Reply, Turn } from './machine.ts';

type ConversationActor = Actor<ReturnType<typeof conversationMachine.provide>>;

export interface Entry {
  actor: ConversationActor;
  idle: unknown;
  encoding: Encoding;
  /** The tenant that owns the conversation (null: made without one, reachable by admins and embedders only). */
  tenant: string | null;
  /** The fencing token of the lease this actor loaded under (undefined: a store without leases). */
  token: number | undefined;
  /** Turns of this instance under way (claimed, not yet answered): the lease stays while there are any. */
  claims: number;
  /** A write was fenced off: another instance wrote, what this actor holds is out of date. */
  stale: boolean;
}

/** The turns of a stored conversation whose question is stored and whose reply is not, as turns to run again. */
function orphanedTurns(stored: StoredConversation): Turn[] {
  const through = stored.conversation.summary?.throughSeq ?? -1;
  return stored.messages
    .filter((m) => m.role === 'user' && m.status === 'pending' && m.seq > through)
    .map((m) => ({
      turnId: m.turnId,
      content: m.content,
      tokens: m.tokens,
      maxTokens: null,
      idempotencyKey: m.idempotencyKey,
      resumed: true,
    }));
}

/** How long a conversation's write lease lasts unless renewed (renewed every third of it while a turn runs). */
export const defaultLeaseMs = 30_000;

export interface ActivationOptions {
  store: ConversationStore;
  logic: ReturnType<typeof conversationMachine.provide>;
  inputOf(stored: StoredConversation): ConversationInput;
  encodingOf(model: string): Encoding;
  idleMs: number;
  /** The write lease's time to live (default defaultLeaseMs). */
  leaseMs?: number;
  timers: Timers;
  inspect?: ((event: InspectionEvent) => void) | undefined;
  /** A turn's outcome, as the actor emits it. */
  completed(id: string, turnId: string, reply: Reply): void;
  failed(id: string, turnId: string, error: SwitchyardError): void;
}

export function createActivation(options: ActivationOptions) {
  const { store, timers } = options;
  const actors = new Map<string, Entry>();
  const activating = new Map<string, Promise<Entry>>();
  const leases = createLeases({ store, timers, leaseMs: options.leaseMs ?? defaultLeaseMs });

  const quiet = (entry: Entry) => {
    const snapshot = entry.actor.getSnapshot();
    return snapshot.value === 'idle' && snapshot.context.queue.length === 0 && !snapshot.context.current;
  };

  async function activate(id: string): Promise<Entry> {
    const running = actors.get(id);
    if (running) return running;
    let pending = activating.get(id);
    if (!pending) {
      pending = (async () => {
        // The lease first, then the load: nobody else writes between them.
        const token = await leases.acquire(id);
        const stored = await store.load(id);
        if (!stored) throw new SwitchyardError('conversation_not_found', `no conversation "${id}"`);
        const actor = createActor(options.logic, {
          id: `conversation:${id}`,
          input: options.inputOf(stored),
          ...(options.inspect ? { inspect: options.inspect } : {}),
        });
        actor.on('turn.completed', (e) => options.completed(id, e.turnId, e.reply));
        actor.on('turn.failed', (e) => options.failed(id, e.turnId, e.error));
        actor.start();
        // On a store shared by instances, a turn still pending here was left by an instance that died or lost
        // the lease mid-turn: it runs first, so its reply follows its question and later turns follow it (the
        // caller's same-key retry joins or replays it). A single-process store keeps it pending for that retry.
        if (token !== undefined) for (const turn of orphanedTurns(stored)) actor.send({ type: 'turn.requested', turn });
        const entry: Entry = {
          actor,
          idle: undefined,
          encoding: options.encodingOf(stored.conversation.model),
          tenant: stored.conversation.tenant ?? null,
          token,
          claims: 0,
          stale: false,
        };
        actors.set(id, entry);
        return entry;
      })().finally(() => activating.delete(id));
      activating.set(id, pending);
    }
    return pending;
  }

  /**
   * The conversation's actor, under this instance's lease, for a turn: reloaded when another instance wrote
   * since it loaded; `conversation_moved` when another instance holds the lease. Pair with `unclaim`.
   */
  async function claim(id: string): Promise<Entry> {
    let entry = await activate(id);
    entry.claims++;
    let token: number | undefined;
    try {
      token = await leases.acquire(id);
    } catch (err) {
      entry.claims--;
      throw err;
    }
    if (token === entry.token && !entry.stale) return entry;
    entry.claims--;
    if (!quiet(entry))
      throw new SwitchyardError('conversation_moved', `conversation "${id}" was written by another instance during a turn here`);
    stopActor(id, entry);
    entry = await activate(id);
    entry.claims++;
    return entry;
  }

  /**
   * The claimed turn is over (answered, replayed or refused): with nothing else under way the lease goes, before
   * the caller is answered, so that the caller's next turn may go to any instance.
   */
  async function unclaim(id: string, entry: Entry) {
    entry.claims = Math.max(0, entry.claims - 1);
    if (entry.claims === 0 && quiet(entry) && actors.get(id) === entry) await leases.release(id);
  }

  function stopActor(id: string, entry: Entry) {
    hold(entry);
    entry.actor.stop();
    if (actors.get(id) === entry) actors.delete(id);
  }

  /** Keeps the actor in memory: a turn is coming. */
  function hold(entry: Entry) {
    if (entry.idle !== undefined) timers.clearTimeout(entry.idle);
    entry.idle = undefined;
  }

  /** Passivates the actor after idleMs with nothing queued or running. */
  function scheduleIdle(id: string) {
    const entry = actors.get(id);
    if (!entry) return;
    hold(entry);
    // Idle here: the lease goes, so the next turn may run on any instance.
    if (entry.claims === 0 && quiet(entry)) void leases.release(id);
    entry.idle = timers.setTimeout(() => {
      entry.idle = undefined;
      const snapshot = entry.actor.getSnapshot();
      if (snapshot.value !== 'idle' || snapshot.context.queue.length > 0 || snapshot.context.current) return scheduleIdle(id);
      entry.actor.stop();
      actors.delete(id);
      void leases.release(id);
    }, options.idleMs);
    unrefTimer(entry.idle);
  }

  function remove(id: string) {
    const entry = actors.get(id);
    if (!entry) return;
    stopActor(id, entry);
    void leases.release(id);
  }

  return {
    activate,
    claim,
    unclaim,
    /** A write of this conversation was fenced off: reload it before its next turn. */
    markStale(id: string) {
      const entry = actors.get(id);
      if (entry) entry.stale = true;
    },
    hold,
    scheduleIdle,
    remove,
    get: (id: string) => actors.get(id),
    ids: () => [...actors.keys()],
    size: () => actors.size,
    stop() {
      // Leases are left to expire: the store may be closing.
      leases.stop();
      for (const [id, entry] of [...actors]) stopActor(id, entry);
    },
  };
}
