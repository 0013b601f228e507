// Calls one OpenAI-compatible deployment's `/chat/completions` (and `/embeddings`) over an undici connection pool. The request and
// the answer are OpenAI's wire format (the `openai` SDK's types); the SDK itself is not on this path because
// its per-call machinery (headers, web streams, logging) cost more CPU than the rest of the gateway together
// (docs/operations.md, "Where the time goes"). Switchyard owns retries and timing: each attempt gets its own
// signal, a per-attempt timer and, for streams, an idle timer between chunks. Every failure leaves here
// classified (src/upstream/classify.ts).

import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse, EmbeddingCreateParams } from 'openai/resources/embeddings';
import type { AnswerStream } from './answer-stream.ts';
import { chatStream } from './chat-stream.ts';
import { upstreamConnection } from './connection.ts';
import { AttemptSignal } from './signals.ts';
import { StreamBody } from './stream-body.ts';
import { wholeAnswer } from './whole-body.ts';
import { errorOfAnswer, malformed, maxErrorBodyChars, parseAnswer, serialize } from './wire.ts';

/** A chat request without the fields the deployment decides: the upstream model and streaming. */
export type ChatRequest = Omit<ChatCompletionCreateParamsNonStreaming, 'model' | 'stream' | 'stream_options'>;

/** An embeddings request without the upstream model, which the deployment decides. */
export type EmbeddingRequest = Omit<EmbeddingCreateParams, 'model'>;

export type { AnswerStream, StreamDelta, StreamEnd, StreamEvent, ToolCallDelta } from './answer-stream.ts';

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
  /** Largest non-streamed answer body read, in bytes; also bounds each stream event (default 32 MiB). */
  maxResponseBytes?: number | undefined;
}

export interface AttemptOptions {
  signal?: AbortSignal | undefined;
  /**
   * The attempt's own controller (its `signal` is then this controller's): the adapter's timers abort it
   * directly instead of a controller of their own linked under `signal`.
   */
  controller?: AbortController | undefined;
}

export interface OpenAIAdapter {
  complete(request: ChatRequest, options?: AttemptOptions): Promise<ChatCompletion>;
  stream(request: ChatRequest, options?: AttemptOptions): AnswerStream;
  /** `/embeddings`: the upstream's answer whole. Optional for adapters of chat-only deployments (tests). */
  embed?(request: EmbeddingRequest, options?: AttemptOptions): Promise<CreateEmbeddingResponse>;
  /** Releases the adapter's connections. */
  close?(): Promise<void>;
}

/** Creates the adapter for one deployment. */
export function createOpenAIAdapter(options: AdapterOptions): OpenAIAdapter {
  const { pathOf, pool, headers, maxResponseBytes, classify } = upstreamConnection(options);
  const path = pathOf('chat/completions');
  const embeddingsPath = pathOf('embeddings');
  const streamHeaders: Record<string, string> = { ...headers, accept: 'text/event-stream' };
  const jsonHeaders: Record<string, string> = { ...headers, accept: 'application/json' };
  const limits = { provider: options.id, maxBytes: maxResponseBytes, maxErrorBytes: maxErrorBodyChars };

  /** One non-streamed call: the answer read whole (bounded) and checked for the field every answer has. */
  async function call<T extends object>(
    request: object,
    to: string,
    attemptOptions: AttemptOptions,
    valid: (answer: T) => boolean,
    missing: string,
  ): Promise<T> {
    const body = serialize(options.id, request);
    const attempt = new AttemptSignal(options.id, attemptOptions, options.timeoutMs);
    try {
      const res = await wholeAnswer(pool, { method: 'POST', path: to, headers: jsonHeaders, body }, limits, attempt.signal);
      if (res.statusCode >= 300) throw errorOfAnswer(res.statusCode, res.headers, res.text);
      const answer = parseAnswer(res.text) as T | null;
      if (answer === null || typeof answer !== 'object' || !valid(answer)) throw malformed(missing);
      return answer;
    } catch (err) {
      throw classify(err, attempt);
    } finally {
      attempt.dispose();
    }
  }

  return {
    close: () => pool.close().catch(() => {}),

    complete: (request, attemptOptions = {}) =>
      call<ChatCompletion>(
        { ...request, model: options.model, stream: false },
        path,
        attemptOptions,
        (c) => Array.isArray(c.choices),
        'no choices',
      ),

    embed: (request, attemptOptions = {}) =>
      call<CreateEmbeddingResponse>(
        { ...request, model: options.model },
        embeddingsPath,
        attemptOptions,
        (e) => Array.isArray(e.data),
        'no data',
      ),

    stream: (request, attemptOptions = {}) => {
      const payload = serialize(options.id, { ...request, model: options.model, stream: true, stream_options: { include_usage: true } });
      const attempt = new AttemptSignal(options.id, attemptOptions, options.timeoutMs);
      return chatStream({
        id: options.id,
        streamIdleTimeoutMs: options.streamIdleTimeoutMs,
        maxResponseBytes,
        attempt,
        send: () => new StreamBody(pool, { method: 'POST', path, headers: streamHeaders, body: payload }, attempt.signal),
        classify,
      });
    },
  };
}
