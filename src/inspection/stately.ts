// Optional: every actor in the Stately inspector. @statelyai/inspect turns XState's inspection events into its
// protocol (createInspector); the WebSocket transport is ours, because its own retries every 5 s forever and
// keeps reconnecting after stop() (see TRAPS.md). The package is loaded only when this is configured, so an
// embedding process that does not use it loads none of it. Payloads are redacted before they leave: message
// text, system prompts, tool arguments, keys and headers never reach the inspector, only their length.

import { createRequire } from 'node:module';
import type { InspectionEvent } from 'xstate';
import { SwitchyardError } from '../errors.ts';

export interface StatelyOptions {
  /** The inspector's WebSocket, e.g. `ws://127.0.0.1:8080` (@statelyai/inspect/server's bridge). */
  url: string;
  /** Events kept while the inspector is not connected; the oldest go first. */
  maxPending?: number;
}

export interface StatelyLink {
  /** XState inspection observer: pass it to createActor's `inspect`. */
  observer(event: InspectionEvent): void;
  /** `connecting`, `open`, `waiting` (to reconnect) or `stopped`. */
  state(): 'connecting' | 'open' | 'waiting' | 'stopped';
  /** Closes the socket and cancels any reconnection. */
  stop(): void;
}

const forwarded = new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']);

/** Keys whose values are payload, not state: sent as their length only. */
const payloadKeys = new Set(['content', 'text', 'partial', 'system', 'arguments', 'apiKey', 'authorization', 'headers', 'refusal']);

/** JSON with payloads redacted, cycles cut and functions dropped. */
export function redactedJson(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (key, v: unknown) => {
    if (payloadKeys.has(key) && v !== null && v !== undefined && v !== '') {
      return typeof v === 'string' ? `[redacted: ${v.length} chars]` : '[redacted]';
    }
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'function' || typeof v === 'symbol') return undefined;
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
    }
    return v;
  });
}

interface StatelyInspect {
  createInspector(adapter: { start(): void; stop(): void; send(event: unknown): void }): {
    inspect: { next?: (event: InspectionEvent) => void };
    start(): void;
    stop(): void;
  };
}

class Transport {
  readonly #url: string;
  readonly #maxPending: number;
  readonly #pending: string[] = [];
  #ws: WebSocket | undefined;
  #state: 'connecting' | 'open' | 'waiting' | 'stopped' = 'waiting';
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(url: string, maxPending: number) {
    this.#url = url;
    this.#maxPending = maxPending;
  }

  state() {
    return this.#state;
  }

  start() {
    if (this.#state === 'stopped') return;
    this.#state = 'connecting';
    const ws = new WebSocket(this.#url);
    this.#ws = ws;
    ws.onopen = () => {
      this.#state = 'open';
      this.#failures = 0;
      for (const message of this.#pending.splice(0)) ws.send(message);
    };
    // An error is always followed by close: reconnect from there, with a growing, capped delay.
    ws.onerror = () => {};
    ws.onclose = () => {
      if (this.#ws !== ws || this.#state === 'stopped') return;
      this.#state = 'waiting';
      const delay = Math.min(30_000, 500 * 2 ** this.#failures++);
      this.#timer = setTimeout(() => this.start(), delay);
      this.#timer.unref();
    };
  }

  stop() {
    this.#state = 'stopped';
    clearTimeout(this.#timer);
    this.#ws?.close();
    this.#ws = undefined;
    this.#pending.length = 0;
  }

  send(event: unknown) {
    if (this.#state === 'stopped') return;
    const message = redactedJson(event);
    if (this.#state === 'open' && this.#ws) {
      this.#ws.send(message);
      return;
    }
    this.#pending.push(message);
    if (this.#pending.length > this.#maxPending) this.#pending.shift();
  }
}

/** Connects the actors to a Stately inspector at `options.url`; reconnects until stopped. */
export function linkStately(options: StatelyOptions): StatelyLink {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new SwitchyardError('invalid_config', `stately.url: expected a ws:// or wss:// URL, got "${options.url}"`, {
      param: 'stately.url',
    });
  }
  // Loaded here, synchronously, and only when configured (require of an ES module, Node 22.12+).
  const { createInspector } = createRequire(import.meta.url)('@statelyai/inspect') as StatelyInspect;
  const transport = new Transport(url.href, options.maxPending ?? 500);
  const inspector = createInspector(transport);
  inspector.start();
  return {
    // Only what the inspector shows: it converts each event on a timer of its own, where a malformed one would
    // throw out of reach, and it drops microsteps and actions anyway.
    observer: (event) => {
      if (!forwarded.has(event.type) || !event.actorRef) return;
      inspector.inspect.next?.(event);
    },
    state: () => transport.state(),
    stop: () => transport.stop(),
  };
}
