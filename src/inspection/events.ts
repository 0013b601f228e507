// The runtime's inspection stream: XState's inspect observer, boiled down to state changes of every actor
// (providers, supervisor, conversations) as compact records. Never payloads: no prompts, replies or keys.
// With no subscriber it returns at once, so it costs nothing per request.

import type { InspectionEvent } from 'xstate';

export interface InspectionRecord {
  /** Actor id: a deployment id, `supervisor`, or `conversation:<id>`. */
  actor: string;
  /** Machine id: provider, supervisor or conversation. */
  machine: string;
  /** State value as a dotted path, e.g. `recovering.coolingDown`. */
  state: string;
  /** The state before, or null when this is the first seen. */
  from: string | null;
  /** Type of the event that caused the change. */
  event: string;
  at: number;
}

/** A readable name for an event: `after backoff`, `done`, `error`, `always`, or the event type itself. */
export function eventName(type: string): string {
  const after = /^xstate\.after\.([^.]+)\./.exec(type);
  if (after) return `after ${after[1]}`;
  if (type.startsWith('xstate.done.actor')) return 'done';
  if (type.startsWith('xstate.error.actor')) return 'error';
  return type === '' ? 'always' : type;
}

/** `{ recovering: 'coolingDown' }` → `recovering.coolingDown`. */
export function statePath(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [key, inner] = Object.entries(value)[0] ?? [];
    return key === undefined ? '' : `${key}.${statePath(inner)}`.replace(/\.$/, '');
  }
  return '';
}

export function createInspection(now: () => number = Date.now) {
  const listeners = new Set<(record: InspectionRecord) => void>();
  const last = new Map<string, string>();
  return {
    /** The observer to pass as `inspect` when creating actors. */
    observer(event: InspectionEvent) {
      if (listeners.size === 0 || event.type !== '@xstate.snapshot') return;
      const snapshot = event.snapshot as { value?: unknown; machine?: { id?: string }; status?: string };
      if (snapshot.value === undefined) return;
      const ref = event.actorRef as { id?: string; sessionId: string };
      const actor = ref.id ?? ref.sessionId;
      const state = snapshot.status === 'stopped' ? 'stopped' : statePath(snapshot.value);
      const from = last.get(actor) ?? null;
      if (from === state) return;
      last.set(actor, state);
      const record = { actor, machine: snapshot.machine?.id ?? 'unknown', state, from, event: eventName(event.event.type), at: now() };
      for (const listener of listeners) listener(record);
    },
    /** Adds a listener; returns the function that removes it. */
    subscribe(listener: (record: InspectionRecord) => void): () => void {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) last.clear();
      };
    },
    /** Sends a record that no actor's snapshot makes (a config reload) to every listener. */
    publish(record: InspectionRecord) {
      for (const listener of listeners) listener(record);
    },
    /** Seeds the last known state of an actor, so that its first change has a `from`. */
    seed(actor: string, state: string) {
      if (!last.has(actor)) last.set(actor, state);
    },
  };
}
