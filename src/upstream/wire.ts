// The wire format of an upstream's answers: bounded reading of JSON bodies, error bodies and stream error
// events into typed errors, and serializing a request as the caller's fault when it cannot be.

import type { IncomingHttpHeaders } from 'node:http';
import { SwitchyardError } from '../errors.ts';
import { UpstreamError } from './classify.ts';
import { hostOnly } from './scrub.ts';
import type { StreamBody } from './stream-body.ts';

export const headerReader = (headers: IncomingHttpHeaders) => ({
  get(name: string): string | null {
    const value = headers[name];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  },
});

/** The longest error body read from an upstream; the rest is dropped. */
export const maxErrorBodyChars = 64 * 1024;

/** Reads a streamed call's error answer (at most maxErrorBodyChars of it) into an UpstreamError. */
export async function streamedError(body: StreamBody): Promise<UpstreamError> {
  let text = '';
  try {
    while (!body.done && text.length < maxErrorBodyChars) {
      await body.wait();
      text += body.read();
    }
  } catch {
    // A body cut short: what arrived is the message.
  }
  body.destroy();
  return errorOfAnswer(body.statusCode, body.headers, text);
}

/** The UpstreamError of an error answer: the upstream's message and code where it sent JSON, else its text. */
export function errorOfAnswer(statusCode: number, headers: IncomingHttpHeaders, body: string): UpstreamError {
  const text = body.slice(0, maxErrorBodyChars);
  let message = text.trim().slice(0, 500) || 'no body';
  let code: string | undefined;
  try {
    const error = (JSON.parse(text) as { error?: { message?: unknown; code?: unknown } | string } | null)?.error;
    if (typeof error === 'string') message = error;
    else if (error && typeof error === 'object') {
      if (typeof error.message === 'string') message = error.message;
      if (typeof error.code === 'string') code = error.code;
    }
  } catch {
    // Not JSON: the text itself is the message.
  }
  // Redirects are not followed (a POST must not silently change where it goes). The location is named by its
  // host only: its path and query may carry tokens, and clients see this message.
  const location = headerReader(headers).get('location');
  if (statusCode >= 300 && statusCode < 400)
    message = `redirected to ${hostOnly(location)} (not followed): point baseURL at where the API is served`;
  return new UpstreamError(statusCode, message, code, headerReader(headers));
}

/** The message of an `event: error` in a stream: its JSON error's message, or the text itself. */
export function errorEventMessage(data: string): string {
  try {
    const body = JSON.parse(data) as { error?: { message?: unknown }; message?: unknown } | null;
    const message = body?.error?.message ?? body?.message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: the text is the message.
  }
  return data.slice(0, 500) || 'error event';
}

export const malformed = (what: string) => new SyntaxError(`malformed response: ${what}`);

/**
 * The request body as JSON. Runs before anything is sent: a request that cannot be serialized (a cycle, a
 * nesting too deep for the stack, a BigInt) is the caller's fault, `invalid_request`, and never the upstream's.
 */
export function serialize(provider: string, body: object): string {
  try {
    return JSON.stringify(body);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SwitchyardError('invalid_request', `the request cannot be serialized: ${reason}`, { provider, cause });
  }
}

export const tooLarge = (provider: string, what: string) =>
  new SwitchyardError('upstream_response_too_large', `${provider}: ${what}`, { provider, retryable: true });

/**
 * The JSON text each answer object that parseAnswer returned was parsed from. An answer that passes through the
 * call path unchanged can go to its client as this text instead of being serialized again; nothing on that
 * path changes an answer in place (a change makes a new object, which has no entry here and is serialized).
 */
const answerTexts = new WeakMap<object, string>();

/** The upstream's own JSON text of `answer`, if it is the very object parseAnswer parsed from it. */
export const answerTextOf = (answer: object): string | undefined => answerTexts.get(answer);

/** A JSON answer's text parsed, the text remembered for the object it gave (answerTextOf). */
export function parseAnswer(text: string): unknown {
  const answer: unknown = JSON.parse(text);
  if (answer !== null && typeof answer === 'object') answerTexts.set(answer, text);
  return answer;
}
