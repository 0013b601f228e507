// The most recent routing decisions, in a bounded ring: what `runtime.decisions()` shows.

import type { RouteInfo } from '../errors.ts';

export interface Decision {
  at: number;
  model: string;
  outcome: 'ok' | string;
  route: RouteInfo;
}

export class DecisionLog {
  readonly #kept: number;
  readonly #ring: Decision[] = [];
  /** Where the next decision goes, and the oldest one once the ring is full. */
  #next = 0;

  constructor(kept = 256) {
    this.#kept = kept;
  }

  add(decision: Decision) {
    this.#ring[this.#next] = decision;
    this.#next = (this.#next + 1) % this.#kept;
  }

  /** Oldest first. */
  list(): Decision[] {
    const ring = this.#ring;
    return ring.length < this.#kept ? [...ring] : [...ring.slice(this.#next), ...ring.slice(0, this.#next)];
  }
}
