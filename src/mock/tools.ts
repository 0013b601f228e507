// Tool calls in the mock upstream: which function a request's reply calls, and that call as OpenAI sends it,
// whole or streamed. Deterministic like the text replies: the same request gets the same call.

import { hashText, promptOf, replyFor } from './reply.ts';

export interface MockToolCall {
  id: string;
  name: string;
  arguments: string;
}

type Problem = { param: string; message: string };

/**
 * The function a request's reply calls: the one `tool_choice` names, else the first of `tools`; null for a text
 * reply (no tools, `tool_choice: "none"`, or a tool result last); or what is wrong with the request's tools.
 */
export function toolOf(body: Record<string, unknown>, messages: readonly { role: string }[]): string | null | Problem {
  if (body.tools === undefined) return null;
  if (!Array.isArray(body.tools) || body.tools.length === 0) return { param: 'tools', message: 'tools must be a non-empty array' };
  const names: string[] = [];
  for (const [i, t] of body.tools.entries()) {
    const name = (t as { function?: { name?: unknown } } | null)?.function?.name;
    if (typeof name !== 'string' || name === '') return { param: `tools[${i}].function.name`, message: 'each tool needs a function name' };
    names.push(name);
  }
  const choice = body.tool_choice as string | { function?: { name?: unknown } } | undefined;
  if (choice === 'none' || messages.at(-1)?.role === 'tool') return null;
  if (typeof choice === 'object' && choice !== null) {
    const wanted = choice.function?.name;
    if (typeof wanted !== 'string' || !names.includes(wanted))
      return { param: 'tool_choice', message: 'tool_choice names no tool of the request' };
    return wanted;
  }
  return names[0] ?? null;
}

/** The call to `name` for these messages, with arguments `{ "query": … }` derived from the prompt. */
export function toolCallFor(messages: readonly { role: string; content?: unknown }[], name: string): MockToolCall {
  const prompt = promptOf(messages);
  return { id: `call_mock_${hashText(prompt).toString(36)}`, name, arguments: JSON.stringify({ query: replyFor(prompt) }) };
}

/** The assistant message of a completion that makes the call. */
export function toolCallMessage(call: MockToolCall) {
  return {
    role: 'assistant',
    content: null,
    refusal: null,
    tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }],
  };
}

/** The call streamed as OpenAI streams it: id and name first (with the role), then the arguments in pieces. */
export function toolCallDeltas(call: MockToolCall): { first: Record<string, unknown>; pieces: Record<string, unknown>[] } {
  return {
    first: {
      role: 'assistant',
      content: null,
      tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }],
    },
    pieces: (call.arguments.match(/[\s\S]{1,8}/g) ?? []).map((piece) => ({ tool_calls: [{ index: 0, function: { arguments: piece } }] })),
  };
}
