// Conversation actors in memory: one per conversation id, activated from the store on demand and stopped
// (passivated) after `idleMs` without a turn, so memory is bounded by active conversations. The idle timers
// run on the injected timers (real ones by default).

import { type Actor, createActor, type InspectionEvent } from 'xstate';
import { SwitchyardError } from '../errors.ts';
import type { Encoding } from '../models/tokens.ts';
import type { ConversationStore, StoredConversation } from '../stores/types.ts';
import { type Timers, unrefTimer } from '../timers.ts';
import type { ConversationInput, conversationMachine, Reply } from './machine.ts';

type ConversationActor = Actor<ReturnType<typeof conversationMachine.provide>>;

export interface Entry {
  actor: ConversationActor;
  idle: unknown;
  encoding: Encoding;
}

export interface ActivationOptions {
  store: ConversationStore;
  logic: ReturnType<typeof conversationMachine.provide>;
  inputOf(stored: StoredConversation): ConversationInput;
  encodingOf(model: string): Encoding;
  idleMs: number;
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

  async function activate(id: string): Promise<Entry> {
    const running = actors.get(id);
    if (running) return running;
    let pending = activating.get(id);
    if (!pending) {
      pending = (async () => {
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
        const entry: Entry = { actor, idle: undefined, encoding: options.encodingOf(stored.conversation.model) };
        actors.set(id, entry);
        return entry;
      })().finally(() => activating.delete(id));
      activating.set(id, pending);
    }
    return pending;
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
    entry.idle = timers.setTimeout(() => {
      entry.idle = undefined;
      const snapshot = entry.actor.getSnapshot();
      if (snapshot.value !== 'idle' || snapshot.context.queue.length > 0 || snapshot.context.current) return scheduleIdle(id);
      entry.actor.stop();
      actors.delete(id);
    }, options.idleMs);
    unrefTimer(entry.idle);
  }

  function remove(id: string) {
    const entry = actors.get(id);
    if (!entry) return;
    hold(entry);
    entry.actor.stop();
    actors.delete(id);
  }

  return {
    activate,
    hold,
    scheduleIdle,
    remove,
    get: (id: string) => actors.get(id),
    ids: () => [...actors.keys()],
    size: () => actors.size,
    stop() {
      for (const id of [...actors.keys()]) remove(id);
    },
  };
}
