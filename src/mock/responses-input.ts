// Reading a Responses API request for the mock upstream: `input` (text or items), `instructions`, tools and
// `text.format`, turned into the chat-shaped messages a reply is derived from — the same messages a gateway's
// translation to chat completions would send, so both paths get the same answer.

import type { Problem } from './http.ts';
import { toolOf } from './tools.ts';

export interface MockMessage {
  role: string;
  content: string;
}

export interface ResponsesBody {
  model: string;
  /** The request's own input as messages (without instructions or earlier responses). */
  input: MockMessage[];
  instructions: string | null;
  /** The function the reply calls, or null for text. */
  tool: string | null;
  tools: unknown[];
  toolChoice: unknown;
  format: unknown;
  maxOutputTokens: number | null;
  stream: boolean;
  store: boolean;
  previousResponseId: string | null;
}

const textOf = (content: unknown): string | null => {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return null;
  let text = '';
  for (const part of content) {
    const p = part as { type?: unknown; text?: unknown } | null;
    if (p && typeof p.text === 'string' && (p.type === 'input_text' || p.type === 'output_text' || p.type === 'text')) text += p.text;
  }
  return text;
};

/** One input item as a message, or null when the item is not one the mock understands. */
function messageOf(item: unknown): MockMessage | null {
  if (typeof item !== 'object' || item === null) return null;
  const i = item as Record<string, unknown>;
  if (i.type === 'function_call') return { role: 'assistant', content: '' };
  if (i.type === 'function_call_output')
    return { role: 'tool', content: typeof i.output === 'string' ? i.output : JSON.stringify(i.output ?? '') };
  if ((i.type === undefined || i.type === 'message') && typeof i.role === 'string') {
    const content = textOf(i.content);
    return content === null ? null : { role: i.role, content };
  }
  return null;
}

export function parseResponsesBody(b: Record<string, unknown>): ResponsesBody | Problem {
  if (typeof b.model !== 'string' || b.model === '') return { param: 'model', message: 'you must provide a model' };
  let input: MockMessage[];
  if (typeof b.input === 'string') input = [{ role: 'user', content: b.input }];
  else if (Array.isArray(b.input) && b.input.length > 0) {
    input = [];
    for (const [index, item] of b.input.entries()) {
      const message = messageOf(item);
      if (message === null) return { param: `input[${index}]`, message: 'expected a message, function_call or function_call_output item' };
      input.push(message);
    }
  } else return { param: 'input', message: 'input must be a string or a non-empty array of items' };
  if (b.instructions !== undefined && b.instructions !== null && typeof b.instructions !== 'string') {
    return { param: 'instructions', message: 'instructions must be a string' };
  }
  const tools = b.tools === undefined ? [] : b.tools;
  if (!Array.isArray(tools)) return { param: 'tools', message: 'tools must be an array' };
  // The chat mock decides which function a reply calls; it reads chat's nesting of the tool's name.
  const chatTools = tools.length === 0 ? undefined : tools.map((t) => ({ function: { name: (t as { name?: unknown } | null)?.name } }));
  const choice = b.tool_choice as string | { name?: unknown } | undefined;
  const chatChoice = typeof choice === 'object' && choice !== null ? { function: { name: choice.name } } : choice;
  const tool = toolOf({ tools: chatTools, tool_choice: chatChoice }, input);
  if (tool !== null && typeof tool === 'object') return { param: tool.param.replace(/\.function\.name$/, '.name'), message: tool.message };
  const limit = b.max_output_tokens;
  if (limit !== undefined && limit !== null && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)) {
    return { param: 'max_output_tokens', message: 'max_output_tokens must be a positive integer' };
  }
  const previous = b.previous_response_id;
  if (previous !== undefined && previous !== null && typeof previous !== 'string') {
    return { param: 'previous_response_id', message: 'previous_response_id must be a string' };
  }
  const text = b.text as { format?: unknown } | undefined;
  return {
    model: b.model,
    input,
    instructions: typeof b.instructions === 'string' ? b.instructions : null,
    tool,
    tools,
    toolChoice: b.tool_choice ?? 'auto',
    format: text?.format ?? { type: 'text' },
    maxOutputTokens: typeof limit === 'number' ? limit : null,
    stream: b.stream === true,
    store: b.store !== false,
    previousResponseId: typeof previous === 'string' ? previous : null,
  };
}

/** `text.format` of the Responses API in chat's `response_format` shape (the schema moves under json_schema). */
export function chatFormatOf(format: unknown): unknown {
  const f = format as { type?: unknown; schema?: unknown } | null;
  if (f?.type === 'json_schema') return { type: 'json_schema', json_schema: { schema: f.schema } };
  return format;
}
