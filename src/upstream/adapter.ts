// Calls one OpenAI-compatible deployment's `/chat/completions` (and `/embeddings`) over an undici connection pool. The request and
// the answer are OpenAI's wire format (the `openai` SDK's types); the SDK itself is not on this path because
// its per-call machinery (headers, web streams, logging) cost more CPU than the rest of the gateway together
// (docs/operations.md, "Where the time goes"). Switchyard owns retries and timing: each attempt gets its own
// signal, a per-attempt timer and, for streams, an idle timer between chunks. Every failure leaves here
// classified (src/upstream/classify.ts).

import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { CreateEmbeddingResponse, EmbeddingCreateParams } from 'openai/resources/embeddings';
import { SwitchyardError } from '../errors.ts';
import { UpstreamError } from './classify.ts';
import { upstreamConnection } from './connection.ts';
import { AttemptSignal } from './signals.ts';
import { SseParser } from './sse-reader.ts';
import { errorEventMessage, headerReader, malformed, type ResponseData, readJson, serialize, upstreamError } from './wire.ts';

/** A chat request without the fields the deployment decides: the upstream model and streaming. */
export type ChatRequest = Omit<ChatCompletionCreateParamsNonStreaming, 'model' | 'stream' | 'stream_options'>;

/** An embeddings request without the upstream model, which the deployment decides. */
export type EmbeddingRequest = Omit<EmbeddingCreateParams, 'model'>;

/** A piece of a streamed tool call: `index` says which call; id, type and name come with its first piece. */
export type ToolCallDelta = ChatCompletionChunk.Choice.Delta.ToolCall;

/**
 * One chunk of a stream: `chunk` parsed, and `raw`, its event data exactly as the upstream sent it, so that a
 * writer passing the chunk on unchanged can send those bytes instead of serializing `chunk` again.
 */
export type StreamDelta = {
  type: 'delta';
  content: string;
  toolCalls?: ToolCallDelta[] | undefined;
  chunk: ChatCompletionChunk;
  raw?: string | undefined;
};
/** The end of a stream; `chunk` is the upstream's usage chunk (no choices), kept whole for the client. */
export type StreamEnd = { type: 'end'; finishReason: string; usage: CompletionUsage | null; chunk?: ChatCompletionChunk | undefined };
export type StreamEvent = StreamDelta | StreamEnd;

/**
 * A streamed answer: its deltas (`for await` reads them), and its end as the iterator's return value. Only a
 * stream that reached its end marker returns; any other ending throws — decided here, in the adapter, only.
 */
export interface AnswerStream extends AsyncIterator<StreamDelta, StreamEnd, undefined> {
  [Symbol.asyncIterator](): AnswerStream;
}

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

/**
 * Lets the rest of a body that is complete for us (its end marker read) arrive and be discarded, so that the
 * connection goes back to the pool, rather than destroying it — which also costs an AbortError per stream.
 * An upstream that keeps sending after its end marker is cut after `ms`.
 */
function discardRest(body: ResponseData['body'], ms: number) {
  const timer = setTimeout(() => body.destroy(), ms);
  body.once('close', () => clearTimeout(timer));
  body.resume();
}

/** Creates the adapter for one deployment. */
export function createOpenAIAdapter(options: AdapterOptions): OpenAIAdapter {
  const { pathOf, pool, headers, maxResponseBytes, classify } = upstreamConnection(options);
  const path = pathOf('chat/completions');
  const embeddingsPath = pathOf('embeddings');
  const streamHeaders: Record<string, string> = { ...headers, accept: 'text/event-stream' };
  const jsonHeaders: Record<string, string> = { ...headers, accept: 'application/json' };

  const post = (body: string, stream: boolean, signal: AbortSignal, to = path) =>
    pool.request({ method: 'POST', path: to, headers: stream ? streamHeaders : jsonHeaders, body, signal });

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
      const res = await post(body, false, attempt.signal, to);
      if (res.statusCode >= 300) throw await upstreamError(res);
      const answer = (await readJson(options.id, res, maxResponseBytes)) as T | null;
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

    async *stream(request, attemptOptions = {}) {
      const payload = serialize(options.id, { ...request, model: options.model, stream: true, stream_options: { include_usage: true } });
      const attempt = new AttemptSignal(options.id, attemptOptions, options.timeoutMs);
      let finishReason: string | null = null;
      let usage: CompletionUsage | null = null;
      let usageChunk: ChatCompletionChunk | undefined;
      let body: ResponseData['body'] | undefined;
      let ended = false;
      try {
        const res = await post(payload, true, attempt.signal);
        if (res.statusCode >= 300) throw await upstreamError(res);
        body = res.body;
        body.setEncoding('utf8');
        const parser = new SseParser(maxResponseBytes);
        // Not destroyed when the loop ends at the end marker: see discardRest.
        const reads = body.iterator({ destroyOnReturn: false }) as AsyncIterableIterator<string>;
        reading: for await (const text of reads) {
          const events = parser.feed(text);
          // Re-armed once per read that completed events, and after each event the consumer held.
          if (events.length > 0) attempt.arm(options.streamIdleTimeoutMs);
          for (const event of events) {
            if (event.data === '[DONE]') {
              ended = true;
              break reading;
            }
            if (event.event === 'error')
              throw new UpstreamError(undefined, errorEventMessage(event.data), undefined, headerReader(res.headers));
            const chunk = JSON.parse(event.data) as ChatCompletionChunk & { error?: { message?: string; code?: string } };
            if (chunk.error) {
              const message = typeof chunk.error.message === 'string' ? chunk.error.message : 'error event';
              throw new UpstreamError(undefined, message, chunk.error.code, headerReader(res.headers));
            }
            if (chunk.usage) usage = chunk.usage;
            const choice = chunk.choices?.[0];
            if (choice?.finish_reason) finishReason = choice.finish_reason;
            if (!choice) {
              if (chunk.usage) usageChunk = chunk;
              continue;
            }
            const toolCalls = choice.delta?.tool_calls;
            attempt.pause();
            yield toolCalls?.length
              ? { type: 'delta', content: choice.delta?.content ?? '', toolCalls, chunk, raw: event.data }
              : { type: 'delta', content: choice.delta?.content ?? '', chunk, raw: event.data };
            attempt.arm(options.streamIdleTimeoutMs);
          }
        }
        if (attempt.signal.aborted) throw attempt.signal.reason;
        if (finishReason === null) {
          throw new SwitchyardError('stream_interrupted', `${options.id}: the stream ended before its end marker`, {
            provider: options.id,
          });
        }
        return { type: 'end', finishReason, usage, ...(usageChunk ? { chunk: usageChunk } : {}) };
      } catch (err) {
        throw classify(err, attempt);
      } finally {
        attempt.dispose();
        // A consumer that stopped early, or a failure: release the socket rather than read the rest.
        if (body && !body.readableEnded) {
          // Nothing reads the body any more: what its destruction emits is of no interest.
          body.on('error', () => {});
          if (ended && !body.destroyed) discardRest(body, options.streamIdleTimeoutMs);
          else body.destroy();
        }
      }
    },
  };
}
