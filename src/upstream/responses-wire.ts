// The Responses API as Switchyard carries it: the request body a deployment receives, and how a Responses
// request rides through the routing layer, which speaks chat completions. The route translates a Responses
// request to chat (responses-translate.ts) and attaches the original under `responsesSource`; a deployment
// that speaks Responses sends that original (pass-through), a chat deployment sends the translation. What a
// Responses upstream answered rides back beside the chat-shaped values the router hands on, in weak maps keyed
// by those values, so the server can write the upstream's own objects and events unchanged.

import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { Response as OpenAIResponse } from 'openai/resources/responses/responses';

/** One input item (message, function_call, function_call_output, …) as the client sent it. */
export type InputItem = Record<string, unknown>;

/**
 * A Responses request without the fields the deployment decides (model, stream) and the ones the gateway
 * resolves itself (previous_response_id, conversation): `input` is always items, earlier turns included.
 * Every other field the client sent is kept as sent, for pass-through.
 */
export interface ResponsesBody {
  input: InputItem[];
  instructions?: string | null | undefined;
  tools?: ResponsesFunctionTool[] | undefined;
  tool_choice?: unknown;
  text?: { format?: TextFormat | undefined; [field: string]: unknown } | undefined;
  max_output_tokens?: number | null | undefined;
  temperature?: number | null | undefined;
  top_p?: number | null | undefined;
  parallel_tool_calls?: boolean | null | undefined;
  [field: string]: unknown;
}

export interface ResponsesFunctionTool {
  type: 'function';
  name: string;
  description?: string | null;
  parameters?: Record<string, unknown> | null;
  strict?: boolean | null;
}

export type TextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name?: string; schema?: Record<string, unknown>; strict?: boolean | null; description?: string };

/** The Responses original of a translated chat request, and how many chat messages its translation had. */
export interface ResponsesSource {
  body: ResponsesBody;
  /** Messages of the translation: a continuation appends messages after these. */
  messages: number;
}

/**
 * The key of a chat request's Responses original. A symbol: object spreads (the request path, a
 * continuation request) keep it, and JSON serialization drops it, so no chat upstream ever sees it.
 */
export const responsesSource: unique symbol = Symbol('switchyard.responsesSource');

export type WithResponsesSource = { [responsesSource]?: ResponsesSource };

/** An upstream Responses event as it arrived: its name, its data text (written unchanged) and the data read. */
export interface RawResponsesEvent {
  type: string;
  data: string;
  parsed: Record<string, unknown>;
}

/** The Response a Responses upstream sent, by the chat completion the adapter made of it. */
export const upstreamResponses = new WeakMap<ChatCompletion, OpenAIResponse>();

/** The Responses event a Responses upstream sent, by the chat chunk the adapter made of it. */
export const upstreamEvents = new WeakMap<ChatCompletionChunk, RawResponsesEvent>();

/** Responses usage in chat's terms, for budgets, metrics and health. */
export function chatUsageOf(usage: OpenAIResponse['usage'] | null | undefined) {
  if (!usage) return null;
  return {
    prompt_tokens: usage.input_tokens,
    completion_tokens: usage.output_tokens,
    total_tokens: usage.total_tokens ?? usage.input_tokens + usage.output_tokens,
  };
}

/** Chat usage in Responses' terms. */
export function responsesUsageOf(usage: { prompt_tokens: number; completion_tokens: number; total_tokens?: number } | null | undefined) {
  if (!usage) return null;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens,
  };
}
