// An adapter whose target a config reload can replace (a new key, headers, timeouts or base URL): calls already
// made finish on the adapter they started on, which is closed once the last of them has ended.

import type { AnswerStream, OpenAIAdapter } from '../upstream/adapter.ts';
import { over } from '../upstream/answer-stream.ts';

export interface SwappableAdapter extends OpenAIAdapter {
  /** New calls go to `next` from now on; the previous adapter closes when its calls in flight have ended. */
  replace(next: OpenAIAdapter): void;
}

interface Slot {
  adapter: OpenAIAdapter;
  calls: number;
  retired: boolean;
}

export function swappableAdapter(initial: OpenAIAdapter): SwappableAdapter {
  let current: Slot = { adapter: initial, calls: 0, retired: false };
  const retire = (slot: Slot) => {
    slot.retired = true;
    if (slot.calls === 0) void slot.adapter.close?.();
  };
  const release = (slot: Slot) => {
    slot.calls--;
    if (slot.retired && slot.calls === 0) void slot.adapter.close?.();
  };
  const track = async <T>(call: (adapter: OpenAIAdapter) => Promise<T>): Promise<T> => {
    const slot = current;
    slot.calls++;
    try {
      return await call(slot.adapter);
    } finally {
      release(slot);
    }
  };
  /**
   * The slot's stream, released when it ends however it ends. By hand rather than an async generator: `poll`
   * passes the adapter's chunks at hand on without a promise (see AnswerStream.poll).
   */
  function stream(...args: Parameters<OpenAIAdapter['stream']>): AnswerStream {
    let slot: Slot | undefined;
    let source: AnswerStream | undefined;
    let released = false;
    const done = () => {
      if (released || !slot) return;
      released = true;
      release(slot);
    };
    const opened = (): AnswerStream => {
      if (source) return source;
      slot = current;
      slot.calls++;
      try {
        source = slot.adapter.stream(...args);
      } catch (err) {
        done();
        throw err;
      }
      return source;
    };
    const wrapper: AnswerStream = {
      next: () => {
        if (released) return Promise.resolve(over);
        let from: AnswerStream;
        try {
          from = opened();
        } catch (err) {
          return Promise.reject(err);
        }
        return from.next().then(
          (next) => {
            if (next.done) done();
            return next;
          },
          (err: unknown) => {
            done();
            throw err;
          },
        );
      },
      poll: () => (released ? undefined : source?.poll?.()),
      return: async () => {
        try {
          if (source && !released) await source.return?.();
        } finally {
          done();
        }
        return over;
      },
      [Symbol.asyncIterator]: () => wrapper,
    };
    return wrapper;
  }
  return {
    complete: (request, options) => track((a) => a.complete(request, options)),
    stream,
    embed: (request, options) =>
      track((a) => {
        if (!a.embed) throw new Error('this adapter serves no embeddings');
        return a.embed(request, options);
      }),
    close: async () => retire(current),
    replace(next) {
      const previous = current;
      current = { adapter: next, calls: 0, retired: false };
      retire(previous);
    },
  };
}
