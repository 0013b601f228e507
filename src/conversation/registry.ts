// Conversation actors at run time: one per conversation id, activated from the store on demand and stopped
// (passivated) after `idleMs` without a turn, so memory is bounded by active conversations. Provides the
// machine's store writes, completions and summaries, and makes retried posts idempotent.

import { randomUUID } from 'node:crypto';
import { type Actor, createActor, type InspectionEvent } from 'xstate';
import type { ConversationsConfig, SwitchyardConfig } from '../config.ts';
import { defaultStatus, SwitchyardError } from '../errors.ts';
import { countMessageTokens, type Encoding } from '../models/tokens.ts';
import type { Supervisor } from '../routing/supervisor.ts';
import type { ConversationStore, StoredConversation } from '../stores/types.ts';
import { conversationLogic } from './actor.ts';
import type { ConversationInput, ConversationMessage, conversationMachine, ModelWindow, Reply } from './machine.ts';
import { createQuotas, keyReused } from './quotas.ts';
import {
  type ConversationView,
  type CreateConversation,
  type LiveConversation,
  type PostOptions,
  type TurnResult,
  type TurnStreamEvent,
  viewOf,
} from './types.ts';

interface Deferred {
  resolve(result: TurnResult): void;
  reject(error: SwitchyardError): void;
}

type ConversationActor = Actor<ReturnType<typeof conversationMachine.provide>>;

interface Entry {
  actor: ConversationActor;
  idle: NodeJS.Timeout | undefined;
  encoding: Encoding;
}

export function createConversations(options: {
  store: ConversationStore;
  supervisor: Supervisor;
  config: SwitchyardConfig;
  inspect?: (event: InspectionEvent) => void;
  now?: () => number;
}) {
  const { store, supervisor } = options;
  const settings: ConversationsConfig = options.config.conversations;
  const quotas = createQuotas(store, options.config.limits);
  const now = options.now ?? Date.now;

  const windows = logicalModelWindows(options.config);
  const windowOf = (model: string): ModelWindow & { encoding: Encoding } => {
    const w = windows.get(model);
    if (!w) throw new SwitchyardError('model_not_found', `model "${model}" is not served here`, { status: 404, param: 'model' });
    return { model, ...w };
  };

  const actors = new Map<string, Entry>();
  const activating = new Map<string, Promise<Entry>>();
  const waiting = new Map<string, Deferred>();
  const signals = new Map<string, AbortSignal>();
  /** Turns whose caller reads the reply as it streams: deltas go to these sinks. */
  const sinks = new Map<string, (delta: string) => void>();

  const logic = conversationLogic({
    store,
    supervisor,
    settings,
    now,
    encodingOf: (model) => windowOf(model).encoding,
    modelOf: (id) => actors.get(id)?.actor.getSnapshot().context.model.model,
    signals,
    sinks,
  });

  const inflight = new Map<string, { content: string; result: Promise<TurnResult> }>();

  function inputOf(stored: StoredConversation): ConversationInput {
    const c = stored.conversation;
    const model = windowOf(c.model);
    const fallbackName = settings.contextFallbacks[c.model];
    const throughSeq = c.summary?.throughSeq ?? -1;
    return {
      id: c.id,
      model: { model: model.model, contextWindow: model.contextWindow },
      fallback: fallbackName ? { model: fallbackName, contextWindow: windowOf(fallbackName).contextWindow } : null,
      system: c.system === null ? null : { content: c.system, tokens: c.systemTokens },
      strategy: c.strategy,
      reserveTokens: settings.reserveTokens,
      summaryMaxTokens: settings.summaryMaxTokens,
      summary: c.summary,
      messages: stored.messages.filter((m) => m.seq > throughSeq).map(({ createdAt: _created, ...m }) => m),
    };
  }

  async function activate(id: string) {
    const running = actors.get(id);
    if (running) return running;
    let pending = activating.get(id);
    if (!pending) {
      pending = (async () => {
        const stored = await store.load(id);
        if (!stored) throw new SwitchyardError('conversation_not_found', `no conversation "${id}"`, { status: 404 });
        const actor = createActor(logic, {
          id: `conversation:${id}`,
          input: inputOf(stored),
          ...(options.inspect ? { inspect: options.inspect } : {}),
        });
        actor.on('turn.completed', (e) => settle(id, e.turnId, { ok: true, reply: e.reply }));
        actor.on('turn.failed', (e) => settle(id, e.turnId, { ok: false, code: e.code, message: e.message, status: e.status }));
        actor.start();
        const entry: Entry = { actor, idle: undefined, encoding: windowOf(stored.conversation.model).encoding };
        actors.set(id, entry);
        return entry;
      })().finally(() => activating.delete(id));
      activating.set(id, pending);
    }
    return pending;
  }

  function settle(
    id: string,
    turnId: string,
    outcome: { ok: true; reply: Reply } | { ok: false; code: string; message: string; status?: number | undefined },
  ) {
    const deferred = waiting.get(turnId);
    waiting.delete(turnId);
    signals.delete(turnId);
    sinks.delete(turnId);
    if (deferred) {
      if (outcome.ok) {
        const r = outcome.reply;
        deferred.resolve({
          turnId,
          content: r.content,
          finishReason: r.finishReason,
          usage: r.usage,
          deployments: r.deployments,
          replayed: false,
        });
      } else {
        deferred.reject(
          new SwitchyardError(outcome.code as SwitchyardError['code'], outcome.message, {
            status: outcome.status ?? defaultStatus(outcome.code),
          }),
        );
      }
    }
    scheduleIdle(id);
  }

  /** Passivates the actor after idleMs with nothing queued or running. */
  function scheduleIdle(id: string) {
    const entry = actors.get(id);
    if (!entry) return;
    clearTimeout(entry.idle);
    entry.idle = setTimeout(() => {
      const snapshot = entry.actor.getSnapshot();
      if (snapshot.value !== 'idle' || snapshot.context.queue.length > 0 || snapshot.context.current) return scheduleIdle(id);
      entry.actor.stop();
      actors.delete(id);
    }, settings.idleMs);
    entry.idle.unref();
  }

  async function post(id: string, content: string, postOptions: PostOptions = {}, onDelta?: (delta: string) => void): Promise<TurnResult> {
    quotas.checkMessage(content);
    const key = postOptions.idempotencyKey ?? null;
    const inflightKey = key === null ? null : `${id}\u0000${key}`;
    const running = inflightKey === null ? undefined : inflight.get(inflightKey);
    if (running) {
      if (running.content !== content) throw keyReused(key ?? '');
      return running.result;
    }
    const attempt = (async () => {
      const entry = await activate(id);
      clearTimeout(entry.idle);
      const context = entry.actor.getSnapshot().context;
      let turnId: string = randomUUID();
      let resumed = false;
      if (key !== null) {
        const earlier = await findByKey(id, context.messages, context.summary !== null, key);
        if (earlier && earlier.content !== content) throw keyReused(key);
        if (earlier?.reply) return earlier.reply;
        if (earlier) {
          turnId = earlier.turnId;
          resumed = true;
        }
      }
      const tokens = countMessageTokens({ role: 'user', content }, entry.encoding);
      const result = new Promise<TurnResult>((resolve, reject) => waiting.set(turnId, { resolve, reject }));
      if (postOptions.signal) signals.set(turnId, postOptions.signal);
      if (onDelta) sinks.set(turnId, onDelta);
      entry.actor.send({
        type: 'turn.requested',
        turn: { turnId, content, tokens, maxTokens: postOptions.maxTokens ?? null, idempotencyKey: key, resumed },
      });
      return result;
    })();
    if (inflightKey !== null) {
      inflight.set(inflightKey, { content, result: attempt });
      attempt.finally(() => inflight.delete(inflightKey)).catch(() => {});
    }
    return attempt;
  }

  /** An earlier post with this idempotency key: its reply when answered, or its turn id to run it again. */
  async function findByKey(id: string, active: readonly ConversationMessage[], folded: boolean, key: string) {
    let messages: readonly { role: string; content: string; turnId: string; status: string; idempotencyKey: string | null }[] = active;
    let user = messages.find((m) => m.role === 'user' && m.idempotencyKey === key);
    // The actor holds every message after the summary: only folded ones need the store.
    if (!user && folded) {
      messages = (await store.load(id))?.messages ?? [];
      user = messages.find((m) => m.role === 'user' && m.idempotencyKey === key);
    }
    if (!user) return null;
    const reply = user.status === 'done' ? messages.find((m) => m.role === 'assistant' && m.turnId === user.turnId) : undefined;
    return {
      turnId: user.turnId,
      content: user.content,
      reply: reply
        ? { turnId: user.turnId, content: reply.content, finishReason: 'stop', usage: null, deployments: [], replayed: true }
        : null,
    };
  }

  return {
    async create(input: CreateConversation): Promise<{ id: string }> {
      const model = windowOf(input.model);
      const id = randomUUID();
      const system = input.system ?? null;
      const tenant = input.tenant ?? null;
      const systemTokens = system === null ? 0 : countMessageTokens({ role: 'system', content: system }, model.encoding);
      await quotas.checkCreate(tenant, systemTokens);
      await store.create({
        id,
        model: input.model,
        system,
        systemTokens,
        strategy: input.strategy ?? settings.strategy,
        createdAt: now(),
        summary: null,
        ...(tenant === null ? {} : { tenant }),
      });
      return { id };
    },

    async get(id: string): Promise<ConversationView> {
      const stored = await store.load(id);
      if (!stored) throw new SwitchyardError('conversation_not_found', `no conversation "${id}"`, { status: 404 });
      return viewOf(stored);
    },

    post: (id: string, content: string, options: PostOptions = {}) => post(id, content, options),

    /** Posts a turn and streams the reply as it arrives; the turn is stored before the end event. */
    async *stream(id: string, content: string, options: PostOptions = {}): AsyncGenerator<TurnStreamEvent> {
      const queue: string[] = [];
      let notify = () => {};
      let outcome: { ok: true; result: TurnResult } | { ok: false; error: unknown } | undefined;
      post(id, content, options, (delta) => {
        queue.push(delta);
        notify();
      }).then(
        (result) => {
          outcome = { ok: true, result };
          notify();
        },
        (error: unknown) => {
          outcome = { ok: false, error };
          notify();
        },
      );
      while (true) {
        for (let delta = queue.shift(); delta !== undefined; delta = queue.shift()) yield { type: 'delta', content: delta };
        if (outcome) break;
        await new Promise<void>((resolve) => {
          notify = resolve;
        });
      }
      if (!outcome.ok) throw outcome.error;
      // A replayed turn (an idempotent retry) streams its stored reply at once.
      if (outcome.result.replayed) yield { type: 'delta', content: outcome.result.content };
      yield { type: 'end', result: outcome.result };
    },

    async delete(id: string): Promise<boolean> {
      const entry = actors.get(id);
      if (entry) {
        clearTimeout(entry.idle);
        entry.actor.stop();
        actors.delete(id);
      }
      return store.delete(id);
    },

    /** Conversation actors in memory now. */
    active: () => actors.size,

    /** Loads a conversation's actor from the store (a no-op when it is in memory). */
    async activate(id: string): Promise<void> {
      await activate(id);
      scheduleIdle(id);
    },

    /** Every conversation actor in memory, with its state: for the inspector. */
    list(): (LiveConversation & { id: string })[] {
      return [...actors.keys()].flatMap((id) => {
        const live = this.live(id);
        return live ? [{ id, ...live }] : [];
      });
    },

    /** The in-memory actor of a conversation, or null when it is passivated: its state, window and counters. */
    live(id: string): LiveConversation | null {
      const entry = actors.get(id);
      if (!entry) return null;
      const snapshot = entry.actor.getSnapshot();
      const c = snapshot.context;
      return {
        state: String(snapshot.value),
        queued: c.queue.length,
        summaryFailures: c.summaryFailures,
        summary: c.summary,
        messages: c.messages.map(({ seq, role, tokens, status, turnId }) => ({ seq, role, tokens, status, turnId })),
      };
    },

    /** Stops every conversation actor; their state is in the store. */
    stop() {
      for (const entry of actors.values()) {
        clearTimeout(entry.idle);
        entry.actor.stop();
      }
      actors.clear();
    },
  };
}

export type Conversations = ReturnType<typeof createConversations>;

/** Each logical model's window (the smallest of its deployments') and encoding (that of the first). */
function logicalModelWindows(config: SwitchyardConfig): Map<string, { contextWindow: number; encoding: Encoding }> {
  const windows = new Map<string, { contextWindow: number; encoding: Encoding }>();
  for (const provider of config.providers) {
    for (const [logical, upstream] of Object.entries(provider.models)) {
      const known = windows.get(logical);
      windows.set(logical, {
        contextWindow: Math.min(known?.contextWindow ?? Number.POSITIVE_INFINITY, upstream.contextWindow),
        encoding: known?.encoding ?? upstream.encoding,
      });
    }
  }
  return windows;
}
