// The mock upstream's HTTP plumbing: JSON answers, OpenAI's error body, a bounded body reader.

import type { IncomingMessage, ServerResponse } from 'node:http';

const maxBodyBytes = 10 * 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** OpenAI's error body; the `type` follows the status the way OpenAI's does. */
export function openAIError(status: number, message: string, code: string | null, param: string | null = null) {
  const type = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param, code } };
}

/** The body as text, or null when it is larger than the mock accepts. */
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

export interface Problem {
  param: string;
  message: string;
}

/** A request body parsed as a JSON object, or what is wrong with it. */
export function parseObject(raw: string): { body: Record<string, unknown> } | { problem: Problem } {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { problem: { param: 'body', message: 'We could not parse the JSON body of your request.' } };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { problem: { param: 'body', message: 'expected a JSON object' } };
  return { body: body as Record<string, unknown> };
}

/** Answers 400 with OpenAI's error body naming the field. */
export function sendProblem(res: ServerResponse, problem: Problem) {
  sendJson(res, 400, openAIError(400, problem.message, 'invalid_request', problem.param));
}

/** Writes one server-sent event; `event` names it (the Responses API names every event). */
export function sseEvent(res: ServerResponse, data: unknown, event?: string) {
  res.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`);
}
