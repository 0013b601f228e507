// How a call sent through undici's dispatch (stream-body.ts, whole-body.ts) is stopped, wherever it is: still
// waiting for a connection in the pool's queue (taken out of it, never sent, as request()'s signal does), or
// running (its connection aborted); and the caller's signal that stops it, listened to until the call is done.

import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';

/**
 * The option through which undici's dispatchers hand a request waiting for a connection a function that takes it
 * out of their queue (what request() uses for its signal). Without it, a call aborted before its connection was
 * there still makes the pool open a connection, only to destroy it, or destroys a kept-alive one that comes free.
 * Internal to undici (no public export): absent in another version, aborts then work as before, at that cost.
 */
const queuedAbort = ((): symbol | undefined => {
  try {
    return (createRequire(import.meta.url)('undici/lib/core/symbols.js') as { kQueuedAbort?: symbol }).kQueuedAbort;
  } catch {
    return undefined; // an undici laid out otherwise
  }
})();

/** Stops one dispatched call; the handler calls `started` from its onRequestStart and `release` once it is done. */
export class CallStop {
  #controller: Dispatcher.DispatchController | undefined;
  /** Takes the request out of the pool's queue while it waits for a connection. */
  #cancelQueued: ((reason: Error) => void) | undefined;
  #stopped: Error | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: () => void;

  /** `aborted` runs when `signal` fires (with its reason); the handler then settles and calls `stop`. */
  constructor(signal: AbortSignal | undefined, aborted: (reason: unknown) => void) {
    this.#signal = signal;
    this.#onAbort = () => aborted(signal?.reason);
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** The running call's controller (pause, resume), once a connection took it. */
  get controller(): Dispatcher.DispatchController | undefined {
    return this.#controller;
  }

  /** `options` with undici's queued-abort hook, when this undici has it. */
  options(options: Dispatcher.DispatchOptions): Dispatcher.DispatchOptions {
    if (queuedAbort === undefined) return options;
    const onQueued = (cancel: (reason: Error) => void) => {
      if (this.#stopped) cancel(this.#stopped);
      else this.#cancelQueued = cancel;
    };
    return { ...options, [queuedAbort]: onQueued };
  }

  /** A connection took the call: a call stopped meanwhile is aborted before it is sent. */
  started(controller: Dispatcher.DispatchController) {
    this.#controller = controller;
    this.#cancelQueued = undefined;
    if (this.#stopped) controller.abort(this.#stopped);
  }

  /** Stops the call: out of the queue, or its connection aborted. */
  stop(reason: unknown) {
    this.#stopped ??= reason instanceof Error ? reason : new Error(String(reason));
    this.release();
    if (this.#controller) this.#controller.abort(this.#stopped);
    else this.#cancelQueued?.(this.#stopped);
  }

  /** Stops listening to the caller's signal. */
  release() {
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }
}
