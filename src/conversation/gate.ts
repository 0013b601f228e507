// One conversation's changes in order: a turn is sent to the actor, or the conversation's items or metadata are
// changed, one at a time, so that an item change never interleaves with a turn being sent.

export function createGate() {
  const tails = new Map<string, Promise<unknown>>();
  return {
    /** Runs `fn` after everything queued for `id` before it settled. */
    run<T>(id: string, fn: () => Promise<T>): Promise<T> {
      const before = tails.get(id) ?? Promise.resolve();
      const mine = before.then(fn, fn);
      const tail = mine.catch(() => {});
      tails.set(id, tail);
      // The map holds a conversation only while something of it is queued.
      void tail.then(() => {
        if (tails.get(id) === tail) tails.delete(id);
      });
      return mine;
    },
  };
}
