// A deployment's stream, measured: admitted (lazily, at the first `next`, as a generator would be) through the
// circuit, its first token timed, its outcome reported once to the deployment (src/provider/deployment.ts). An
// iterator by hand rather than an async generator, and `poll` passes the adapter's chunks at hand on without a
// promise: the per-chunk work here is one comparison.

import { SwitchyardError } from '../errors.ts';
import type { AnswerStream, StreamDelta, StreamEnd } from '../upstream/adapter.ts';
import { over } from '../upstream/answer-stream.ts';

export type Usage = { prompt_tokens: number; completion_tokens: number } | null | undefined;
export type Outcome = { ok: true; ttftMs?: number | undefined; usage?: Usage } | { ok: false; error: unknown };

/** A call admitted by the deployment: whether as a probe, and when. */
export interface Started {
  probe: boolean;
  startedAt: number;
}

/** What the measured stream needs of its deployment. */
export interface Measure {
  id: string;
  now(): number;
  /** Admits a call, or throws why not. */
  admit(): Started;
  /** Runs the task through the circuit (opossum counts it); `admitted` false: the breaker refused it. */
  fire(task: () => Promise<void>): { admitted: boolean; result: Promise<unknown> };
  /** A call admitted but refused by the breaker: leaves flight, and throws. */
  refused(started: Started): never;
  /** The call's outcome, once. */
  report(started: Started, outcome: Outcome): void;
}

type Result = IteratorResult<StreamDelta, StreamEnd>;

/** `open` starts the adapter's stream once the call is admitted. */
export function measuredStream(measure: Measure, open: () => AnswerStream): AnswerStream {
  let source: AnswerStream | undefined;
  let started: Started | undefined;
  let ttftMs: number | undefined;
  let settled = false;
  let closed = false;
  // The circuit measures the whole stream: its task settles when the stream ends.
  let settle: { resolve: () => void; reject: (e: unknown) => void } = { resolve: () => {}, reject: () => {} };
  let result: Promise<unknown> = Promise.resolve();
  // Reports the outcome once: before the end is returned, or when the stream fails or is abandoned.
  const finish = async (outcome: Outcome) => {
    if (settled || !started) return;
    settled = true;
    if (outcome.ok) settle.resolve();
    else settle.reject(outcome.error);
    await result.catch(() => {});
    report(started, outcome);
  };
  const report = (at: Started, outcome: Outcome) => measure.report(at, outcome);
  const admitted = (): AnswerStream => {
    const call = measure.admit();
    started = call;
    const done = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const fired = measure.fire(() => done);
    result = fired.result;
    result.catch(() => {});
    if (!fired.admitted) measure.refused(call);
    return open();
  };
  const failed = (error: unknown): Promise<never> => {
    closed = true;
    return finish({ ok: false, error }).then(() => {
      throw error;
    });
  };
  const timed = (delta: StreamDelta) => {
    if (ttftMs === undefined && delta.content !== '' && started) ttftMs = measure.now() - started.startedAt;
  };
  const passed = (next: Result): Result | Promise<Result> => {
    if (next.done) {
      closed = true;
      return finish({ ok: true, ttftMs, usage: next.value.usage }).then(() => next);
    }
    timed(next.value);
    return next;
  };
  const iterator: AnswerStream = {
    next: () => {
      if (closed) return Promise.resolve(over);
      try {
        source ??= admitted();
      } catch (error) {
        closed = true;
        return Promise.reject(error);
      }
      return source.next().then(passed, failed);
    },
    poll: () => {
      if (closed || !source?.poll) return undefined;
      const delta = source.poll();
      if (delta) timed(delta);
      return delta;
    },
    // The consumer stopped early: let the adapter release its connection. Not settled, the stream says
    // nothing about the deployment.
    return: async (value?: StreamEnd | PromiseLike<StreamEnd>) => {
      closed = true;
      if (source && !settled) {
        await source.return?.();
        await finish({
          ok: false,
          error: new SwitchyardError('aborted', `${measure.id}: stream abandoned by the caller`, { provider: measure.id }),
        });
      }
      const end = await value;
      return end === undefined ? over : { done: true, value: end };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
