// A conversation turn from a whole chat request (chat completions with x-conversation-id, /messages, and the
// Responses API's `conversation`): the new messages the turn stores, and every other parameter, sent upstream
// as the client sent it. The conversation supplies the history, so earlier messages of the request are ignored.

import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { SwitchyardError } from '../errors.ts';
import type { ChatStreamDelta } from '../routing/request.ts';
import type { ChatRequest } from '../upstream/adapter.ts';
import type { Reply } from './machine.ts';
import type { TurnResult } from './types.ts';

/**
 * A chat request for a conversation turn: OpenAI's chat completion parameters. Its `model` and `stream` are the
 * conversation's and the caller's business; every other key is sent upstream.
 */
export type ChatTurnRequest = Omit<ChatRequest, 'messages'> & {
  messages: readonly ChatCompletionMessageParam[];
  model?: string;
  stream?: boolean | null;
  stream_options?: unknown;
};

export interface TurnSpec {
  /** What the turn stores before it asks: a user message, or the tool results for the last reply's calls. */
  input: { role: 'user' | 'tool'; content: string; toolCallId?: string }[];
  /** The request without messages, model and stream settings: tools, tool_choice, temperature, response_format… */
  params: Record<string, unknown>;
  /** The reply's token limit, reserved in the window (max_completion_tokens, else max_tokens). */
  maxTokens: number | null;
}

/** Keys the conversation and the caller own; every other key of the request reaches the upstream. */
const owned = new Set(['messages', 'model', 'stream', 'stream_options', 'conversation_id']);

/** The text of a message's content: a string, or its text parts; null for anything else (images, audio…). */
function textOf(content: unknown): string | null {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return null;
  let text = '';
  for (const part of content) {
    if (typeof part !== 'object' || part === null || part.type !== 'text' || typeof part.text !== 'string') return null;
    text += part.text;
  }
  return text;
}

const refuse = (why: string) =>
  new SwitchyardError('invalid_request', `on a conversation, ${why}`, {
    param: 'messages',
  });

/** The turn a chat request asks for; `invalid_request` when its last messages are neither a user message nor tool results. */
export function chatTurnOf(request: ChatTurnRequest): TurnSpec {
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(request)) if (!owned.has(key) && value !== undefined) params[key] = value;
  const limit = params.max_completion_tokens ?? params.max_tokens;
  const maxTokens = typeof limit === 'number' ? limit : null;
  const { messages } = request;
  let first = messages.length;
  while (first > 0 && messages[first - 1]?.role === 'tool') first--;
  if (first < messages.length) {
    const input = messages.slice(first).map((m) => {
      const content = textOf(m.content);
      if (m.role !== 'tool' || content === null) throw refuse('a tool result must be text');
      return { role: 'tool' as const, content, toolCallId: m.tool_call_id };
    });
    return { input, params, maxTokens };
  }
  const last = messages.at(-1);
  const content = last?.role === 'user' ? textOf(last.content) : null;
  if (content === null) throw refuse('the last message must be the new user message, as text, or the tool results of the last reply');
  return { input: [{ role: 'user', content }], params, maxTokens };
}

/** A user message as a turn; `maxTokens` is sent as max_tokens. */
export const textTurn = (content: string, maxTokens: number | null | undefined): TurnSpec => ({
  input: [{ role: 'user', content }],
  params: maxTokens == null ? {} : { max_tokens: maxTokens },
  maxTokens: maxTokens ?? null,
});

/** A replayed reply (an idempotent retry) streamed at once: its text and its calls in one delta, from no deployment. */
export const replayDelta = (result: TurnResult): ChatStreamDelta => ({
  type: 'delta',
  content: result.content,
  deployment: '',
  ...(result.toolCalls?.length
    ? {
        toolCalls: result.toolCalls.map((c, index) => ({
          index,
          id: c.id,
          type: 'function' as const,
          function: { name: c.name, arguments: c.arguments },
        })),
      }
    : {}),
});

/** A reply as the result its callers get. */
export function turnResultOf(turnId: string, reply: Reply): TurnResult {
  const { content, toolCalls, itemId, finishReason, logprobs, usage, route } = reply;
  return {
    turnId,
    content,
    ...(toolCalls ? { toolCalls } : {}),
    ...(itemId ? { itemId } : {}),
    finishReason,
    ...(logprobs ? { logprobs } : {}),
    usage,
    deployments: route.deployments,
    route,
    replayed: false,
  };
}
