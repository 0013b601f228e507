// GET /inspect/events: one feed shared by every reader. A reader gets `hello` (the whole state, once), then
// `transition` (each state change of an actor, as it happens) and `delta` (once a second, only what changed:
// providers whose view changed or that a reload removed, decisions made since, conversations added, changed
// or gone, rollouts and experiments whose figures moved). Each event is built and serialized once for all readers, and nothing runs with no reader. Readers
// are capped (limits.inspectorClients; beyond it 503 inspector_busy) and one that leaves more than
// limits.inspectorBufferBytes unread is cut.

import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { SwitchyardError } from '../../errors.ts';
import type { InspectionRecord } from '../../inspection/events.ts';
import { guardReadings } from '../../inspection/splits.ts';
import type { Runtime } from '../../runtime.ts';

const deltaEveryMs = 1000;

export interface InspectorLimits {
  clients: number;
  bufferBytes: number;
}

/**
 * The inspector's view of the runtime: what `hello` carries and `/inspect/state` answers; `now` lets the page
 * correct for its own clock (next-probe countdowns).
 */
export function stateOf(runtime: Runtime) {
  return {
    now: Date.now(),
    providers: runtime.providers(),
    decisions: runtime.decisions().slice(-48),
    conversations: runtime.conversations.list().map(({ id, state, queued, messages, summary }) => ({
      id,
      state,
      queued,
      messages: messages.length,
      tokens: messages.filter((m) => m.status === 'done').reduce((n, m) => n + m.tokens, 0) + (summary?.tokens ?? 0),
    })),
    // Each rollout: its step, percentage, the two arms in the current step (what the guards compare), and each
    // guard's limit beside what the arms measure.
    rollouts: runtime.rollouts().map(({ id, model, from, to, state, percent, step, steps, holdMs, reason, guard, window, driving }) => ({
      id,
      model,
      from,
      to,
      state,
      percent,
      step,
      steps,
      holdMs,
      reason,
      driving,
      guard,
      window,
      readings: guardReadings(guard, window),
    })),
    // Each experiment with its variants' figures since start (what GET /v1/experiments/{id} shows).
    experiments: runtime.experiments(),
  };
}

type State = ReturnType<typeof stateOf>;
// The previous state a delta is computed against (its time is not part of it).
type Remembered = Omit<State, 'now'>;

/** What changed between two states, keyed by id; null when nothing did. */
function diff(
  before: {
    providers: Map<string, string>;
    conversations: Map<string, string>;
    decisions: Set<unknown>;
    rollouts: string;
    experiments: string;
  },
  now: State,
) {
  const providers = now.providers.filter((p) => before.providers.get(p.id) !== JSON.stringify(p));
  const conversations = now.conversations.filter((c) => before.conversations.get(c.id) !== JSON.stringify(c));
  const present = new Set(now.conversations.map((c) => c.id));
  const removed = [...before.conversations.keys()].filter((id) => !present.has(id));
  const decisions = now.decisions.filter((d) => !before.decisions.has(d));
  // Deployments a config reload removed and that finished draining.
  const deployed = new Set(now.providers.map((p) => p.id));
  const providersRemoved = [...before.providers.keys()].filter((id) => !deployed.has(id));
  // Rollouts are few: when one changed, all of them are sent.
  const rollouts = JSON.stringify(now.rollouts) === before.rollouts ? null : now.rollouts;
  // Experiments likewise: their figures change with their requests, at most once a second here.
  const experiments = JSON.stringify(now.experiments) === before.experiments ? null : now.experiments;
  const changes = providers.length + providersRemoved.length + conversations.length + removed.length + decisions.length;
  if (changes === 0 && rollouts === null && experiments === null) return null;
  return {
    now: now.now,
    providers,
    providersRemoved,
    decisions,
    conversations: { changed: conversations, removed },
    ...(rollouts ? { rollouts } : {}),
    ...(experiments ? { experiments } : {}),
  };
}

function memoryOf(state: Remembered) {
  return {
    providers: new Map(state.providers.map((p) => [p.id, JSON.stringify(p)])),
    conversations: new Map(state.conversations.map((c) => [c.id, JSON.stringify(c)])),
    decisions: new Set<unknown>(state.decisions),
    rollouts: JSON.stringify(state.rollouts),
    experiments: JSON.stringify(state.experiments),
  };
}

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export function createInspectorFeed(runtime: Runtime, limits: InspectorLimits) {
  const readers = new Set<ServerResponse>();
  let memory = memoryOf({ providers: [], decisions: [], conversations: [], rollouts: [], experiments: [] });
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;

  const broadcast = (text: string) => {
    for (const raw of readers) {
      raw.write(text);
      // A reader that does not keep up is cut, not buffered for: its EventSource reconnects and gets a fresh hello.
      if (raw.writableLength > limits.bufferBytes) raw.destroy();
    }
  };
  const tick = () => {
    const state = stateOf(runtime);
    const changes = diff(memory, state);
    memory = memoryOf(state);
    if (changes) broadcast(frame('delta', changes));
    return state;
  };
  const start = () => {
    memory = memoryOf(stateOf(runtime));
    unsubscribe = runtime.subscribe((record: InspectionRecord) => broadcast(frame('transition', record)));
    timer = setInterval(tick, deltaEveryMs);
  };
  const stop = () => {
    clearInterval(timer);
    unsubscribe?.();
    unsubscribe = undefined;
  };

  return {
    readers: () => readers.size,
    /** Serves one reader, or refuses it with inspector_busy when the cap is reached. */
    serve(reply: FastifyReply) {
      if (readers.size >= limits.clients) {
        throw new SwitchyardError('inspector_busy', `the inspector already has ${limits.clients} readers`, { retryAfterMs: 5000 });
      }
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      if (readers.size === 0) start();
      // The reader's hello is the state the next delta is relative to (the others get what changed up to it).
      raw.write(frame('hello', tick()));
      readers.add(raw);
      raw.on('close', () => {
        readers.delete(raw);
        if (readers.size === 0) stop();
      });
    },
    /** Ends every reader (server shutdown). */
    close() {
      for (const raw of readers) raw.end();
      stop();
    },
  };
}
