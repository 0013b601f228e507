// A streamed answer read straight from undici's dispatch callbacks rather than through `request()`'s body
// Readable: each socket read is decoded and appended to the text waiting for the reader, and a reader that is
// behind takes all of it at once. Per stream this saves the Readable, its async iterator and the promise and
// `readable` event of every read, and request()'s async-context bookkeeping (docs/operations.md). Errors are
// the ones request() raises (undici's, or the abort signal's reason), so classify.ts judges them alike.

import type { IncomingHttpHeaders } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { Dispatcher } from 'undici';
import { CallStop } from './call-stop.ts';
import { type SseEvent, SseParser } from './sse-reader.ts';

/** Unread text above this many characters pauses the upstream (its socket is not read) until the reader catches up. */
const holdChars = 64 * 1024;

type Controller = Dispatcher.DispatchController;
type Settle = { resolve(): void; reject(error: unknown): void };

/** One upstream call whose answer is read as text, as it arrives. */
export class StreamBody implements Dispatcher.DispatchHandler {
  statusCode = 0;
  headers: IncomingHttpHeaders = {};
  /** Resolves once the status and headers are in; rejects when the call failed before them. */
  readonly head: Promise<void>;
  readonly #call: CallStop;
  readonly #decoder = new StringDecoder('utf8');
  #text = '';
  #ended = false;
  #failure: { error: unknown } | undefined;
  readonly #started: Settle;
  #waiter: Settle | undefined;
  /** The reader is done with the answer: what still arrives is dropped. */
  #discarding = false;
  #timer: NodeJS.Timeout | undefined;

  /** Sends the request on `dispatcher`; `signal` aborts it (its reason becomes the error). */
  constructor(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, signal?: AbortSignal) {
    let started: Settle | undefined;
    this.head = new Promise<void>((resolve, reject) => {
      started = { resolve, reject };
    });
    this.#started = started as Settle;
    // Read by `await head` or a later failure: never an unhandled rejection of its own.
    this.head.catch(() => {});
    if (signal?.aborted) {
      // Never sent: nothing to stop, and no listener on a signal that will not fire again.
      this.#call = new CallStop(undefined, () => {});
      this.#failure = { error: signal.reason };
      this.#started.reject(signal.reason);
      return;
    }
    this.#call = new CallStop(signal, (reason) => this.#abort(reason));
    dispatcher.dispatch(this.#call.options(options), this);
  }

  /** The text that arrived since the last call ('' when none); the upstream is read again if it was paused. */
  read(): string {
    const text = this.#text;
    this.#text = '';
    if (this.#call.controller?.paused) this.#call.controller.resume();
    return text;
  }

  /** The answer ended and all of its text was read. */
  get done(): boolean {
    return this.#ended && this.#text === '';
  }

  /**
   * Resolves when there is text to read or the answer ended; rejects with the failure that ended it, once the text
   * that arrived before an upstream's failure was read (it may hold the rest of the answer and its end marker).
   */
  wait(): Promise<void> {
    if (this.#text !== '' || this.#ended) return Promise.resolve();
    if (this.#failure) return Promise.reject(this.#failure.error);
    return new Promise<void>((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /**
   * The reader is done: an answer still arriving is read and dropped so that its connection returns to the pool
   * (destroying it would cost a new connection), and cut after `ms` if it does not end.
   */
  discard(ms: number) {
    this.#text = '';
    if (this.#ended || this.#failure) return this.#release();
    this.#discarding = true;
    this.#timer = setTimeout(() => this.destroy(), ms);
    if (this.#call.controller?.paused) this.#call.controller.resume();
  }

  /** Stops the call, its connection closed, unless the answer already ended. */
  destroy(reason: Error = new Error('stream closed by the reader')) {
    if (this.#ended || this.#failure) return this.#release();
    this.#abort(reason);
  }

  #abort(reason: unknown) {
    if (this.#failure || this.#ended) return;
    // Stopped by us (the reader, a timer, the caller): what is unread is no longer wanted.
    this.#text = '';
    this.#fail(reason);
    this.#call.stop(reason);
  }

  #fail(error: unknown) {
    this.#failure = { error };
    this.#started.reject(error);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(error);
    this.#release();
  }

  #wake() {
    const waiter = this.#waiter;
    if (!waiter) return;
    this.#waiter = undefined;
    waiter.resolve();
  }

  #release() {
    clearTimeout(this.#timer);
    this.#call.release();
  }

  onRequestStart(controller: Controller) {
    this.#call.started(controller);
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: IncomingHttpHeaders) {
    // 1xx answers are informational: the real one follows.
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.headers = headers;
    this.#started.resolve();
  }

  onResponseData(controller: Controller, chunk: Buffer) {
    if (this.#discarding || this.#failure) return;
    this.#text += this.#decoder.write(chunk);
    if (this.#text.length > holdChars) controller.pause();
    this.#wake();
  }

  onResponseEnd() {
    if (this.#failure) return;
    this.#ended = true;
    if (!this.#discarding) this.#text += this.#decoder.end();
    this.#release();
    this.#wake();
  }

  onResponseError(_controller: Controller, error: Error) {
    if (this.#failure || this.#ended) return;
    this.#fail(error);
  }
}

/**
 * The events of a streamed answer one at a time, for a reader for which an async step per event is fine (the
 * Responses adapter); the chat stream's hot path feeds an SseParser itself and polls. `maxEventChars` bounds one
 * event's data.
 */
export async function* sseEvents(body: StreamBody, maxEventChars: number): AsyncGenerator<SseEvent> {
  const parser = new SseParser(maxEventChars);
  while (!body.done) {
    await body.wait();
    yield* parser.feed(body.read());
  }
}
