// The conversations API at run time: post turns (idempotent with a key), stream them, delete; OpenAI's
// Conversations API (create, read, metadata, items) is in items-api.ts.
// Actors live in activation.ts; this file provides the machine's store writes, completions and summaries
// (through actor.ts) and matches each turn's outcome to the caller waiting for it.

import { randomUUID } from 'node:crypto';
import type { InspectionEvent } from 'xstate';
import type { ConversationsConfig, SwitchyardConfig } from '../config.ts';
import { SwitchyardError } from '../errors.ts';
import type { Encoding } from '../models/tokens.ts';
import type { ChatStreamDelta } from '../routing/request.ts';
import type { Supervisor } from '../routing/supervisor.ts';
import type { ConversationStore } from '../stores/types.ts';
import { realTimers, type Timers } from '../timers.ts';
import { createActivation, type Entry } from './activation.ts';
import { conversationLogic } from './actor.ts';
import { Channel } from './channel.ts';
import { type ChatTurnRequest, chatTurnOf, replayDelta, type TurnSpec, textTurn, turnResultOf } from './chat-turn.ts';
import { messageTokens } from './count.ts';
import { createGate } from './gate.ts';
import { newId } from './ids.ts';
import { createItemsApi, notFound, visible } from './items-api.ts';
import type { ModelWindow, Reply } from './machine.ts';
import { createQuotas, keyReused } from './quotas.ts';
import { findByKey, queued } from './replay.ts';
import { type ConversationScope, type LiveConversation, liveOf, type PostOptions, type TurnResult, type TurnStreamEvent } from './types.ts';
import { conversationInput, firstModel, liveWindows } from './windows.ts';

interface Deferred {
  resolve(result: TurnResult): void;
  reject(error: SwitchyardError): void;
}

export function createConversations(options: {
  store: ConversationStore;
  supervisor: Supervisor;
  config: SwitchyardConfig;
  inspect?: (event: InspectionEvent) => void;
  now?: () => number;
  /** Runs passivation (real timers by default). */
  timers?: Timers;
}) {
  const { store, supervisor } = options;
  const settings: ConversationsConfig = options.config.conversations;
  const quotas = createQuotas(store, options.config.limits);
  const now = options.now ?? Date.now;

  const currentWindows = liveWindows(options.config);
  const windowOf = (model: string): ModelWindow & { encoding: Encoding } => {
    const w = currentWindows().get(model);
    if (!w) throw new SwitchyardError('model_not_found', `model "${model}" is not served here`, { param: 'model' });
    return { model, ...w };
  };

  const gate = createGate();
  /** Callers waiting for each turn's outcome: the poster, and same-key retries that joined it. */
  const waiting = new Map<string, Deferred[]>();
  const join = (turnId: string, deferred: Deferred) => waiting.set(turnId, [...(waiting.get(turnId) ?? []), deferred]);
  const signals = new Map<string, AbortSignal>();
  /** Turns whose caller reads the reply as it streams: deltas go to these sinks. */
  const sinks = new Map<string, (delta: ChatStreamDelta) => Promise<void>>();

  const logic = conversationLogic({
    store,
    supervisor,
    settings,
    now,
    encodingOf: (model) => windowOf(model).encoding,
    modelOf: (id) => actors.get(id)?.actor.getSnapshot().context.model.model,
    signals,
    sinks,
    tenantOf: (id) => actors.get(id)?.tenant ?? undefined,
  });
  const actors = createActivation({
    store,
    logic,
    inputOf: (stored) => conversationInput(stored, settings, windowOf),
    encodingOf: (model) => windowOf(model).encoding,
    idleMs: settings.idleMs,
    leaseMs: settings.leaseMs,
    timers: options.timers ?? realTimers,
    inspect: options.inspect,
    completed: (id, turnId, reply) => settle(id, turnId, { ok: true, reply }),
    failed: (id, turnId, error) => {
      // Another instance wrote this conversation, or a write's outcome is unknown (a connection lost during
      // its commit): what this actor holds may be out of date, so its next turn reloads it.
      if (error.code === 'conversation_moved' || error.code === 'store_unavailable') actors.markStale(id);
      settle(id, turnId, { ok: false, error });
    },
  });

  const inflight = new Map<string, { content: string; result: Promise<TurnResult> }>();
  const items = createItemsApi({
    store,
    actors,
    gate,
    quotas,
    encodingOf: (model) => windowOf(model).encoding,
    defaultModel: () => firstModel(currentWindows()),
    defaultStrategy: () => settings.strategy,
    now,
  });

  /** Answers the caller waiting for the turn: its reply, or the request's error as it is (no copy). */
  function settle(id: string, turnId: string, outcome: { ok: true; reply: Reply } | { ok: false; error: SwitchyardError }) {
    const deferreds = waiting.get(turnId) ?? [];
    waiting.delete(turnId);
    signals.delete(turnId);
    sinks.delete(turnId);
    for (const deferred of deferreds) {
      if (outcome.ok) deferred.resolve(turnResultOf(turnId, outcome.reply));
      else deferred.reject(outcome.error);
    }
    actors.scheduleIdle(id);
  }

  /** Runs one turn: its input stored (write-ahead), the window fitted, the client's request sent with it. */
  async function post(
    id: string,
    spec: TurnSpec,
    postOptions: PostOptions = {},
    onDelta?: (delta: ChatStreamDelta) => Promise<void>,
  ): Promise<TurnResult> {
    for (const m of spec.input) quotas.checkMessage(m.content);
    const content = spec.input[0]?.content ?? '';
    // What an idempotency key stands for: the whole input (a retry with other tool results is another turn).
    const fingerprint = JSON.stringify(spec.input);
    const key = postOptions.idempotencyKey ?? null;
    // The tenant is part of the key: another tenant's retry must never join (and read) this turn.
    const inflightKey = key === null ? null : `${postOptions.tenant ?? ''}\u0000${id}\u0000${key}`;
    const running = inflightKey === null ? undefined : inflight.get(inflightKey);
    if (running) {
      if (running.content !== fingerprint) throw keyReused(key ?? '');
      return running.result;
    }
    const attempt = (async () => {
      // Claimed and sent in the gate, so that no item change interleaves; the reply is awaited outside it.
      const { entry, sent } = await gate.run(id, async () => {
        const claimed = await actors.claim(id);
        try {
          return { entry: claimed, sent: await send(claimed) };
        } catch (err) {
          await actors.unclaim(id, claimed);
          throw err;
        }
      });
      try {
        return await sent.result;
      } finally {
        await actors.unclaim(id, entry);
      }
    })();
    /** Sends the turn to the actor; its result is wrapped so that awaiting the send does not await the reply. */
    async function send(entry: Entry): Promise<{ result: Promise<TurnResult> }> {
      if (!visible(entry.tenant, postOptions)) {
        // This call may have activated it: let it passivate as if it had not.
        actors.scheduleIdle(id);
        throw notFound(id);
      }
      actors.hold(entry);
      // A replay, a refusal or a failure before the turn is sent: the actor may passivate as if this had not come.
      let sent = false;
      try {
        const context = entry.actor.getSnapshot().context;
        let turnId: string = randomUUID();
        let resumed = false;
        if (key !== null) {
          const earlier = await findByKey(store, id, context.model.model, context.messages, context.summary !== null, key);
          if (earlier && earlier.content !== content) throw keyReused(key);
          if (earlier?.reply) return { result: Promise.resolve(earlier.reply) };
          // Running here already (resumed after a takeover): its outcome, whole as for a replay, never a second run.
          if (earlier && queued(context, earlier.turnId)) {
            const joined = new Promise<TurnResult>((resolve, reject) => join(earlier.turnId, { resolve, reject }));
            return { result: joined.then((r) => ({ ...r, replayed: true })) };
          }
          if (earlier) {
            turnId = earlier.turnId;
            resumed = true;
          }
        }
        const input = spec.input.map((m) => ({
          ...m,
          tokens: messageTokens(m, entry.encoding),
          itemId: newId(m.role === 'tool' ? 'fco' : 'msg'),
        }));
        const tokens = input.reduce((n, m) => n + m.tokens, 0);
        const result = new Promise<TurnResult>((resolve, reject) => join(turnId, { resolve, reject }));
        if (postOptions.signal) signals.set(turnId, postOptions.signal);
        if (onDelta) sinks.set(turnId, onDelta);
        const turn = { turnId, content, tokens, maxTokens: spec.maxTokens, idempotencyKey: key, resumed, input, params: spec.params };
        // The turn may fail while it is sent (a message too large for the window): the caller awaits it next.
        result.catch(() => {});
        entry.actor.send({ type: 'turn.requested', turn });
        sent = true;
        return { result };
      } finally {
        if (!sent) actors.scheduleIdle(id);
      }
    }
    if (inflightKey !== null) {
      inflight.set(inflightKey, { content: fingerprint, result: attempt });
      attempt.finally(() => inflight.delete(inflightKey)).catch(() => {});
    }
    return attempt;
  }

  /** Posts a turn and streams the reply as it arrives, as chat stream events; the turn is stored before the end. */
  async function* stream(id: string, spec: TurnSpec, options: PostOptions = {}): AsyncGenerator<TurnStreamEvent> {
    const deltas = new Channel<ChatStreamDelta>();
    const turn = post(id, spec, options, (delta) => deltas.push(delta));
    turn.then(
      () => deltas.end(),
      () => deltas.end(),
    );
    yield* deltas;
    const result = await turn;
    // A replayed turn (an idempotent retry) streams its stored reply at once.
    if (result.replayed) yield replayDelta(result);
    yield { type: 'end', finishReason: result.finishReason, usage: result.usage, route: result.route, result };
  }

  return {
    /** Creates a conversation (with OpenAI's items and metadata, or Switchyard's model, system and strategy). */
    create: items.create,
    get: items.get,
    setMetadata: items.setMetadata,
    listItems: items.listItems,
    getItem: items.getItem,
    addItems: items.addItems,
    deleteItem: items.deleteItem,

    /** Posts a user message as a turn. */
    post: (id: string, content: string, options: PostOptions = {}) => post(id, textTurn(content, options.maxTokens), options),

    /** Posts a user message as a turn and streams the reply as it arrives. */
    stream: (id: string, content: string, options: PostOptions = {}) => stream(id, textTurn(content, options.maxTokens), options),

    /**
     * Runs a turn from a whole chat request: its new messages (the last user message, or the tool results that
     * end it) are stored, every other parameter reaches the upstream with the conversation's window as messages.
     */
    postChat: (id: string, request: ChatTurnRequest, options: PostOptions = {}) => post(id, chatTurnOf(request), options),

    /** postChat, streamed as chat stream events (tool call pieces included). */
    streamChat: (id: string, request: ChatTurnRequest, options: PostOptions = {}) => stream(id, chatTurnOf(request), options),

    async delete(id: string, scope: ConversationScope = {}): Promise<boolean> {
      if (scope.tenant !== undefined) {
        const owner = actors.get(id)?.tenant ?? (await store.load(id))?.conversation.tenant;
        if (!visible(owner, scope)) return false;
      }
      // Turns still queued or running end as for a missing conversation: their callers must not wait forever.
      const context = actors.get(id)?.actor.getSnapshot().context;
      const pending = context ? [...(context.current ? [context.current] : []), ...context.queue].map((t) => t.turnId) : [];
      actors.remove(id);
      for (const turnId of pending) settle(id, turnId, { ok: false, error: notFound(id) });
      return store.delete(id);
    },

    /** Conversation actors in memory now. */
    active: () => actors.size(),

    /** Loads a conversation's actor from the store (a no-op when it is in memory). */
    async activate(id: string): Promise<void> {
      await actors.activate(id);
      actors.scheduleIdle(id);
    },

    /** Every conversation actor in memory (of the scope's tenant), with its state: for the inspector. */
    list(scope: ConversationScope = {}): (LiveConversation & { id: string })[] {
      return actors.ids().flatMap((id) => {
        const entry = actors.get(id);
        if (!entry || !visible(entry.tenant, scope)) return [];
        const live = this.live(id);
        return live ? [{ id, ...live }] : [];
      });
    },

    /** The in-memory actor of a conversation, or null when it is passivated: its state, window and counters. */
    live(id: string): LiveConversation | null {
      const entry = actors.get(id);
      if (!entry) return null;
      return liveOf(entry.actor.getSnapshot());
    },

    /** Stops every conversation actor; their state is in the store. */
    stop() {
      actors.stop();
    },
  };
}

export type Conversations = ReturnType<typeof createConversations>;
