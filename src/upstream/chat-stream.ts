// One streamed chat completion read from an upstream's event stream, as an iterator by hand. Each socket read is
// parsed into its events at once; `next` hands them out one by one, and `poll` hands out the next delta a read
// already brought without a promise, so a consumer that polls walks all the chunks of one read synchronously
// (a stream's ~25 chunks usually arrive in one or two reads). Only a stream that reached its end marker returns;
// any other ending throws.

import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import { SwitchyardError } from '../errors.ts';
import { type AnswerStream, over, type StreamDelta, type StreamEnd } from './answer-stream.ts';
import { chunkReader } from './chunk-head.ts';
import { UpstreamError } from './classify.ts';
import type { AttemptSignal } from './signals.ts';
import { type SseEvent, SseParser } from './sse-reader.ts';
import type { StreamBody } from './stream-body.ts';
import { errorEventMessage, headerReader, streamedError } from './wire.ts';

export interface ChatStreamSetup {
  id: string;
  streamIdleTimeoutMs: number;
  maxResponseBytes: number;
  attempt: AttemptSignal;
  /** Sends the request; its answer is read as it arrives. */
  send(): StreamBody;
  classify(err: unknown, attempt: AttemptSignal): SwitchyardError;
}

type Chunk = ChatCompletionChunk & { error?: { message?: string; code?: string } };

const noEvents: readonly SseEvent[] = [];

/** The upstream's event stream of one chat completion, read as the call's deltas and end. */
export function chatStream(setup: ChatStreamSetup): AnswerStream {
  const { attempt } = setup;
  const parser = new SseParser(setup.maxResponseBytes);
  // Parses each chunk's members before `choices` once per stream (chunk-head.ts).
  const chunks = chunkReader();
  let body: StreamBody | undefined;
  let events: readonly SseEvent[] = noEvents;
  let at = 0;
  let finishReason: string | null = null;
  let usage: CompletionUsage | null = null;
  let usageChunk: ChatCompletionChunk | undefined;
  /** The end marker was read. */
  let ended = false;
  let closed = false;
  /** A failure met by `poll`, thrown by the next `next`. */
  let failure: { error: unknown } | undefined;

  const headers = () => headerReader(body?.headers ?? {});

  /** The next delta among the events already read, or undefined once they are used up (or the end is reached). */
  function take(): StreamDelta | undefined {
    attempt.resume();
    while (at < events.length) {
      const event = events[at++] as SseEvent;
      if (event.data === '[DONE]') {
        ended = true;
        events = noEvents;
        return undefined;
      }
      if (event.event === 'error') throw new UpstreamError(undefined, errorEventMessage(event.data), undefined, headers());
      const chunk = chunks.parse(event.data) as Chunk;
      if (chunk.error) {
        const message = typeof chunk.error.message === 'string' ? chunk.error.message : 'error event';
        throw new UpstreamError(undefined, message, chunk.error.code, headers());
      }
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (!choice) {
        if (chunk.usage) usageChunk = chunk;
        continue;
      }
      const toolCalls = choice.delta?.tool_calls;
      // The idle timer stops while the consumer holds the delta: a slow reader is not a silent upstream.
      attempt.pause();
      const head = chunks.head;
      return toolCalls?.length
        ? { type: 'delta', content: choice.delta?.content ?? '', toolCalls, chunk, raw: event.data, head }
        : { type: 'delta', content: choice.delta?.content ?? '', chunk, raw: event.data, head };
    }
    return undefined;
  }

  /**
   * Releases the attempt's timer and the body. After the end marker the rest of the body is let arrive and
   * dropped, so that the connection goes back to the pool (an upstream that keeps sending is cut after the idle
   * timeout); otherwise the call is stopped.
   */
  function close() {
    if (closed) return;
    closed = true;
    events = noEvents;
    attempt.dispose();
    if (ended) body?.discard(setup.streamIdleTimeoutMs);
    else body?.destroy();
  }

  async function advance(): Promise<IteratorResult<StreamDelta, StreamEnd>> {
    if (failure) throw failure.error;
    if (!body) {
      body = setup.send();
      await body.head;
      if (body.statusCode >= 300) throw await streamedError(body);
    }
    for (;;) {
      const delta = take();
      if (delta) return { done: false, value: delta };
      if (ended || body.done) break;
      await body.wait();
      events = parser.feed(body.read());
      at = 0;
      // Re-armed once per read that completed events.
      if (events.length > 0) attempt.arm(setup.streamIdleTimeoutMs);
    }
    if (attempt.signal.aborted) throw attempt.signal.reason;
    if (finishReason === null)
      throw new SwitchyardError('stream_interrupted', `${setup.id}: the stream ended before its end marker`, { provider: setup.id });
    close();
    return { done: true, value: { type: 'end', finishReason, usage, ...(usageChunk ? { chunk: usageChunk } : {}) } };
  }

  const stream: AnswerStream = {
    next: () => {
      if (closed) return Promise.resolve(over);
      return advance().catch((err: unknown) => {
        close();
        throw setup.classify(err, attempt);
      });
    },
    poll: () => {
      if (closed || failure || at >= events.length) return undefined;
      try {
        return take();
      } catch (error) {
        failure = { error };
        return undefined;
      }
    },
    // The consumer stopped early: release the socket rather than read the rest.
    return: async () => {
      close();
      return over;
    },
    [Symbol.asyncIterator]: () => stream,
  };
  return stream;
}
