// What an adapter's stream hands out: deltas, then the end as the iterator's return value. The types live apart
// from the adapters so that every layer of the stream path can name them without importing an adapter.

import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';

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
  /**
   * With `raw`: the start of `raw` up to and including the top-level comma before `choices`, when the stream's
   * chunks share it (the same string for all of them, chunk-head.ts). A writer may rewrite that part once per
   * stream rather than scan each chunk.
   */
  head?: string | undefined;
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
  /**
   * The next delta when it is already at hand (read with an earlier socket read), without a promise; undefined
   * when `next` must be called (more must be read, or the stream ends or fails there). Optional: a consumer
   * that polls falls back to `next`.
   */
  poll?(): StreamDelta | undefined;
}

/**
 * A finished iterator's answer: done, without a value. TypeScript types that value as the stream's end, so it is
 * cast once, here.
 */
export const over = { done: true, value: undefined } as unknown as IteratorReturnResult<StreamEnd>;
