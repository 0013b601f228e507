// A call whose answer is read whole (non-streamed completions, embeddings), from undici's dispatch callbacks
// rather than through request()'s body Readable: the answer's pieces are kept as they arrive and the call's one
// promise resolves with the text at the end. Bounded: an answer that declares or sends more than `maxBytes` is
// cut and fails as upstream_response_too_large (Content-Length is not trusted: it may be absent or wrong); an
// error answer is read up to `maxErrorChars` only. Errors are request()'s (undici's, or the signal's reason).

import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { CallStop } from './call-stop.ts';
import { tooLarge } from './wire.ts';

export interface WholeAnswer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface WholeLimits {
  provider: string;
  /** Largest answer body read, in bytes. */
  maxBytes: number;
  /** Of an error answer (status ≥ 300), the bytes read for its message; the rest is dropped with the connection. */
  maxErrorBytes: number;
}

type Controller = Dispatcher.DispatchController;

class WholeBody implements Dispatcher.DispatchHandler {
  #statusCode = 0;
  #headers: IncomingHttpHeaders = {};
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #settled = false;
  readonly #limits: WholeLimits;
  readonly #resolve: (answer: WholeAnswer) => void;
  readonly #reject: (error: unknown) => void;
  readonly call: CallStop;

  constructor(limits: WholeLimits, signal: AbortSignal | undefined, resolve: (a: WholeAnswer) => void, reject: (e: unknown) => void) {
    this.#limits = limits;
    this.#resolve = resolve;
    this.#reject = reject;
    this.call = new CallStop(signal, (reason) => this.#stop(reason));
  }

  /** Fails the call with `error` and stops it (its connection is closed). */
  #stop(error: unknown) {
    if (this.#settled) return;
    this.#settle();
    this.#reject(error);
    this.call.stop(error);
  }

  #settle() {
    this.#settled = true;
    this.call.release();
  }

  #answer() {
    const text = Buffer.concat(this.#chunks, this.#size).toString('utf8');
    return { statusCode: this.#statusCode, headers: this.#headers, text };
  }

  onRequestStart(controller: Controller) {
    this.call.started(controller);
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: IncomingHttpHeaders) {
    if (statusCode < 200 || this.#settled) return;
    this.#statusCode = statusCode;
    this.#headers = headers;
    const declared = Number(headers['content-length']);
    // Refused unread: the body is dropped with its connection.
    if (statusCode < 300 && declared > this.#limits.maxBytes)
      this.#stop(tooLarge(this.#limits.provider, `the answer declares ${declared} bytes, more than the ${this.#limits.maxBytes} allowed`));
  }

  onResponseData(_controller: Controller, chunk: Buffer) {
    if (this.#settled) return;
    this.#size += chunk.length;
    this.#chunks.push(chunk);
    if (this.#statusCode >= 300) {
      if (this.#size < this.#limits.maxErrorBytes) return;
      // Enough of an error answer for its message: answer with it and drop the rest with the connection.
      this.#settle();
      this.#resolve(this.#answer());
      this.call.stop(new Error('error answer read'));
      return;
    }
    if (this.#size > this.#limits.maxBytes)
      this.#stop(tooLarge(this.#limits.provider, `the answer is larger than the ${this.#limits.maxBytes} bytes allowed`));
  }

  onResponseEnd() {
    if (this.#settled) return;
    this.#settle();
    this.#resolve(this.#answer());
  }

  onResponseError(_controller: Controller, error: Error) {
    if (this.#settled) return;
    this.#settle();
    // An error answer cut short still has its status and headers (a 429's Retry-After): what arrived is its message.
    if (this.#statusCode >= 300) this.#resolve(this.#answer());
    else this.#reject(error);
  }
}

/** Sends the request on `dispatcher` and reads its whole answer as text; `signal` aborts it with its reason. */
export function wholeAnswer(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  limits: WholeLimits,
  signal?: AbortSignal,
): Promise<WholeAnswer> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<WholeAnswer>((resolve, reject) => {
    const handler = new WholeBody(limits, signal, resolve, reject);
    dispatcher.dispatch(handler.call.options(options), handler);
  });
}
