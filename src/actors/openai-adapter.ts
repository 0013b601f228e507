// Calls one OpenAI-compatible deployment through the official `openai` SDK. Switchyard owns retries
// (maxRetries: 0) and timing: each attempt gets its own signal, a per-attempt timer and, for streams, an idle
// timer between chunks. Every failure leaves here classified (src/actors/classify.ts).

import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import { SwitchyardError } from '../errors.ts';
import { classifyError } from './classify.ts';
import { createPoolFetch } from './pool-fetch.ts';
import { type Linked, linkedController } from './signals.ts';

/** A chat request without the fields the deployment decides: the upstream model and streaming. */
export type ChatRequest = Omit<ChatCompletionCreateParamsNonStreaming, 'model' | 'stream' | 'stream_options'>;

export type StreamEvent =
  | { type: 'delta'; content: string; chunk: ChatCompletionChunk }
  | { type: 'end'; finishReason: string; usage: CompletionUsage | null };

export interface AdapterOptions {
  /** Deployment id, used in error messages and codes. */
  id: string;
  baseURL: string;
  apiKey?: string | undefined;
  /** Upstream model name. */
  model: string;
  /** Per attempt: the whole call, or for a stream the time to its first chunk. */
  timeoutMs: number;
  /** For a stream: the longest silence allowed between two chunks. */
  streamIdleTimeoutMs: number;
  /** Extra headers sent with every request (e.g. an Azure-style `api-key`). */
  headers?: Record<string, string> | undefined;
}

export interface AttemptOptions {
  signal?: AbortSignal | undefined;
}

export interface OpenAIAdapter {
  complete(request: ChatRequest, options?: AttemptOptions): Promise<ChatCompletion>;
  stream(request: ChatRequest, options?: AttemptOptions): AsyncGenerator<StreamEvent, void, undefined>;
  /** Releases the adapter's connections. */
  close?(): Promise<void>;
}

/** The signal of one attempt: aborted by the caller, or by our timer (then `timedOut` is true). */
class AttemptSignal {
  readonly #link: Linked;
  readonly signal: AbortSignal;
  timedOut = false;
  #timer: NodeJS.Timeout | undefined;

  readonly provider: string;
  readonly caller: AbortSignal | undefined;

  constructor(provider: string, caller: AbortSignal | undefined, timeoutMs: number) {
    this.provider = provider;
    this.caller = caller;
    this.#link = linkedController(caller);
    this.signal = this.#link.signal;
    this.arm(timeoutMs);
  }

  arm(ms: number) {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      const message = `${this.provider}: no answer within ${ms} ms`;
      this.#link.controller.abort(
        new SwitchyardError('provider_timeout', message, { provider: this.provider, retryable: true, status: 504 }),
      );
    }, ms);
  }

  dispose() {
    clearTimeout(this.#timer);
    this.#link.release();
  }
}

/** Creates the adapter for one deployment. */
export function createOpenAIAdapter(options: AdapterOptions): OpenAIAdapter {
  const pool = createPoolFetch();
  const client = new OpenAI({
    baseURL: options.baseURL,
    // OpenAI-compatible servers often need no key, but the SDK insists on one.
    apiKey: options.apiKey ?? 'switchyard-no-key',
    maxRetries: 0,
    // Our own timers decide; this only keeps the SDK's default (10 minutes) out of the way.
    timeout: Math.max(options.timeoutMs, options.streamIdleTimeoutMs) + 60_000,
    defaultHeaders: options.headers,
    fetch: pool.fetch,
  });

  const classify = (err: unknown, attempt: AttemptSignal) =>
    classifyError(err, {
      provider: options.id,
      timedOut: attempt.timedOut,
      callerAborted: attempt.caller?.aborted ?? false,
      now: Date.now(),
    });

  return {
    close: () => pool.close(),

    async complete(request, { signal } = {}) {
      const attempt = new AttemptSignal(options.id, signal, options.timeoutMs);
      try {
        return await client.chat.completions.create({ ...request, model: options.model, stream: false }, { signal: attempt.signal });
      } catch (err) {
        throw classify(err, attempt);
      } finally {
        attempt.dispose();
      }
    },

    async *stream(request, { signal } = {}) {
      const attempt = new AttemptSignal(options.id, signal, options.timeoutMs);
      let finishReason: string | null = null;
      let usage: CompletionUsage | null = null;
      try {
        const upstream = await client.chat.completions.create(
          { ...request, model: options.model, stream: true, stream_options: { include_usage: true } },
          { signal: attempt.signal },
        );
        for await (const chunk of upstream) {
          attempt.arm(options.streamIdleTimeoutMs);
          if (chunk.usage) usage = chunk.usage;
          const choice = chunk.choices[0];
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          if (choice) yield { type: 'delta', content: choice.delta?.content ?? '', chunk };
        }
        // The SDK ends an aborted or broken stream silently: look at why it ended.
        if (attempt.signal.aborted) throw attempt.signal.reason;
        if (finishReason === null) {
          throw new SwitchyardError('stream_interrupted', `${options.id}: the stream ended before its end marker`, {
            provider: options.id,
            retryable: true,
            status: 502,
          });
        }
        // Settle before the last event: a consumer may stop pulling once it has seen the end.
        attempt.dispose();
        yield { type: 'end', finishReason, usage };
      } catch (err) {
        throw classify(err, attempt);
      } finally {
        attempt.dispose();
      }
    },
  };
}
