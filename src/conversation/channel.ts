// Hands values from a producer that pushes (the conversation actor streaming a reply) to a consumer that pulls
// (the caller's `for await`): `push` resolves once the consumer has taken the value and asked for the next,
// so a slow reader slows the upstream read instead of filling memory.

export class Channel<T> implements AsyncIterable<T> {
  readonly #queue: { value: T; taken: () => void }[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #dropped = false;

  /** Offers a value; resolves once it is taken, or at once when the consumer has gone. */
  push(value: T): Promise<void> {
    if (this.#dropped) return Promise.resolve();
    return new Promise((taken) => {
      this.#queue.push({ value, taken });
      this.#notify();
    });
  }

  /** No more values: the consumer finishes after the last one. */
  end() {
    this.#ended = true;
    this.#notify();
  }

  /** The consumer has gone: every push resolves at once from now on. */
  drop() {
    this.#dropped = true;
    for (const item of this.#queue.splice(0)) item.taken();
  }

  #notify() {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      while (true) {
        const item = this.#queue[0];
        if (item) {
          yield item.value;
          // Taken only when the consumer asks for more: that is the backpressure.
          this.#queue.shift();
          item.taken();
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      this.drop();
    }
  }
}
