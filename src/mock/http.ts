// The mock upstream's HTTP plumbing: reading a body, answering JSON and OpenAI error bodies, and checking a chat
// request the way OpenAI does (the field that is wrong, in its words).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { toolOf } from './tools.ts';

const maxBodyBytes = 10 * 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function openAIError(status: number, message: string, code: string | null, param: string | null = null) {
  const type = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param, code } };
}

/** The request body as text, or null when it is larger than the mock accepts. */
export async function readBody(req: IncomingMessage): Promise<string | null> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    size += (part as Buffer).length;
    if (size > maxBodyBytes) return null;
    parts.push(part as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

export interface ChatBody {
  model: string;
  messages: { role: string; content?: unknown; name?: string }[];
  stream: boolean;
  includeUsage: boolean;
  maxTokens: number | null;
  continueFinal: boolean;
  /** The function the reply calls: with `tools` and a user message last (not a tool result), unless `tool_choice` is none. */
  tool: string | null;
}

/** The chat request fields the mock acts on, or the field that is wrong and why, as OpenAI words it. */
export function parseChatBody(raw: string): ChatBody | { param: string; message: string } {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { param: 'body', message: 'We could not parse the JSON body of your request.' };
  }
  if (typeof body !== 'object' || body === null) return { param: 'body', message: 'expected a JSON object' };
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '') return { param: 'model', message: 'you must provide a model' };
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    return { param: 'messages', message: 'messages must be a non-empty array' };
  }
  for (const [i, m] of b.messages.entries()) {
    if (typeof m !== 'object' || m === null || typeof (m as { role?: unknown }).role !== 'string') {
      return { param: `messages[${i}].role`, message: 'each message needs a role' };
    }
  }
  const limit = b.max_completion_tokens ?? b.max_tokens;
  const options = b.stream_options as { include_usage?: unknown } | undefined;
  const tool = toolOf(b, b.messages as { role: string }[]);
  if (tool !== null && typeof tool === 'object') return tool;
  return {
    model: b.model,
    messages: b.messages as ChatBody['messages'],
    stream: b.stream === true,
    includeUsage: options?.include_usage === true,
    maxTokens: typeof limit === 'number' && limit > 0 ? Math.floor(limit) : null,
    continueFinal: b.continue_final_message === true,
    tool,
  };
}
