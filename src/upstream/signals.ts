// Abort controllers linked to a parent signal by one listener: cheaper per request than AbortSignal.any,
// and released when done so that a long-lived parent does not collect listeners. And the signal of one attempt
// (AttemptSignal), which the adapters arm with their timeouts.

import { SwitchyardError } from '../errors.ts';

export interface Linked {
  controller: AbortController;
  signal: AbortSignal;
  /** Drops the link to the parent. */
  release(): void;
}

/** A controller that aborts when `parent` does (with its reason), or when aborted itself. */
export function linkedController(parent: AbortSignal | undefined): Linked {
  const controller = new AbortController();
  const signal = controller.signal;
  if (!parent) return { controller, signal, release: () => {} };
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { controller, signal, release: () => {} };
  }
  const onAbort = () => controller.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return { controller, signal, release: () => parent.removeEventListener('abort', onAbort) };
}

/**
 * The signal of one attempt: aborted by the caller, or by our timer (then `timedOut` is true). One timer per
 * attempt, re-armed with `refresh()`: a stream re-arms it on every event, so creating one each time would cost
 * a timer object per chunk.
 */
export class AttemptSignal {
  readonly #link: Linked;
  readonly signal: AbortSignal;
  timedOut = false;
  #timer: NodeJS.Timeout | undefined;
  #ms = 0;
  #paused = false;
  /** The timer ran out while paused (and did nothing): resuming re-arms it. */
  #lapsed = false;

  readonly provider: string;
  readonly caller: AbortSignal | undefined;

  constructor(
    provider: string,
    options: { signal?: AbortSignal | undefined; controller?: AbortController | undefined },
    timeoutMs: number,
  ) {
    this.provider = provider;
    this.caller = options.signal;
    // An attempt that brings its own controller needs no second one linked under it.
    this.#link = options.controller
      ? { controller: options.controller, signal: options.controller.signal, release: () => {} }
      : linkedController(options.signal);
    this.signal = this.#link.signal;
    this.arm(timeoutMs);
  }

  /** (Re)starts the timer: `ms` from now without an answer, or without an event, aborts the attempt. */
  arm(ms: number) {
    this.#paused = false;
    this.#lapsed = false;
    if (this.#timer !== undefined && ms === this.#ms) {
      // Also re-activates a timer that fired while paused (and then did nothing).
      this.#timer.refresh();
      return;
    }
    clearTimeout(this.#timer);
    this.#ms = ms;
    this.#timer = setTimeout(() => this.#expire(), ms);
  }

  #expire() {
    if (this.#paused) {
      this.#lapsed = true;
      return;
    }
    this.timedOut = true;
    const message = `${this.provider}: no answer within ${this.#ms} ms`;
    this.#link.controller.abort(new SwitchyardError('provider_timeout', message, { provider: this.provider }));
  }

  /** Stops the timer while the consumer holds an event: a slow reader is not a silent upstream. */
  pause() {
    this.#paused = true;
  }

  /**
   * Restarts the timer stopped by pause() without touching it when it is still running: a consumer that takes
   * the chunks of one read one after another costs no timer work per chunk. A timer that ran out while paused
   * starts again from now.
   */
  resume() {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#lapsed) this.arm(this.#ms);
  }

  dispose() {
    clearTimeout(this.#timer);
    this.#link.release();
  }
}
