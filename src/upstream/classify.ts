// The one place where an upstream failure becomes a typed SwitchyardError and is judged retryable or final.
// Retryable: 429, 408, 409, 5xx, 401/403 (the deployment's key is wrong, not the request), timeouts,
// refused/reset connections, broken streams.
// Final: 400, 404, 422, content policy. context_length_exceeded is the conversation's business.
// The adapter (src/upstream/adapter.ts) raises UpstreamError for error answers; everything else it can
// throw is a connection error (undici / errno codes), a SyntaxError from a malformed body, or an abort.

import { type ErrorCode, isSwitchyardError, SwitchyardError } from '../errors.ts';
import { scrub, scrubbedError } from './scrub.ts';

export interface ClassifyContext {
  provider: string;
  /** Our per-attempt or idle timer fired (as opposed to the caller aborting). */
  timedOut: boolean;
  /** The caller's own signal was aborted. */
  callerAborted: boolean;
  /** Why it was: a request's deadline aborts with a `provider_timeout`, a client that left with `aborted`. */
  abortReason?: unknown;
  /** Milliseconds since the epoch, to turn an HTTP-date Retry-After into a delay. */
  now: number;
}

/** An error answer from an upstream: its HTTP status (none for an error event inside a stream) and body. */
export class UpstreamError extends Error {
  readonly status: number | undefined;
  /** The upstream's own `error.code`, e.g. `context_length_exceeded`. */
  readonly code: string | undefined;
  readonly headers: { get(name: string): string | null };

  constructor(status: number | undefined, message: string, code: string | undefined, headers: { get(name: string): string | null }) {
    // Scrubbed here, where the upstream's text first becomes ours: it may echo keys or internal URLs.
    super(scrub(status === undefined ? message : `${status} ${message}`));
    this.name = 'UpstreamError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const seconds = /^\s*\d+(\.\d+)?\s*$/;

/**
 * Parses `retry-after-ms`, or `retry-after` as seconds or an HTTP date, into milliseconds from `now`.
 * Returns undefined when absent or unparsable; never negative.
 */
export function parseRetryAfter(headers: { get(name: string): string | null } | undefined, now: number): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  // A header sent twice arrives joined ("3, 5"): the first value counts. An HTTP date has a comma of its own,
  // so only a first part that is a number of seconds is taken alone.
  const first = value.split(',')[0] ?? value;
  if (seconds.test(first)) return Math.max(0, Number(first) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function fromStatus(err: UpstreamError, ctx: ClassifyContext): SwitchyardError {
  const status = err.status ?? 0;
  const upstreamCode = err.code ?? '';
  const base = { provider: ctx.provider, cause: err };
  const message = `${ctx.provider}: ${err.message}`;
  if (upstreamCode === 'context_length_exceeded') {
    return new SwitchyardError('context_length_exceeded', message, base);
  }
  if (upstreamCode === 'content_filter' || upstreamCode === 'content_policy_violation') {
    return new SwitchyardError('content_filtered', message, base);
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(err.headers, ctx.now);
    return new SwitchyardError('provider_rate_limited', message, {
      ...base,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (status === 408) return new SwitchyardError('provider_timeout', message, { ...base, status });
  if (status === 409 || status >= 500) {
    const retryAfterMs = parseRetryAfter(err.headers, ctx.now);
    return new SwitchyardError('provider_unavailable', message, {
      ...base,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (status === 401 || status === 403) return new SwitchyardError('provider_auth', message, base);
  // The upstream's own 4xx (404, 422…) tells the client more than a generic 400.
  return new SwitchyardError('provider_bad_request', message, { ...base, status: status >= 400 && status < 500 ? status : 400 });
}

function errnoCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && connectionCodes.has(code)) return code;
    current = current.cause;
  }
  return undefined;
}

/** Turns whatever an attempt threw into a SwitchyardError with a stable code and a retryable verdict. */
export function classifyError(err: unknown, ctx: ClassifyContext): SwitchyardError {
  if (err instanceof SwitchyardError) return err;
  // Every failure below is retryable by its code's contract (src/errors.ts). Errors raised while reading an
  // answer can quote it (a JSON SyntaxError shows the text): scrub them too.
  const retryable = (code: ErrorCode, message: string) =>
    new SwitchyardError(code, `${ctx.provider}: ${scrub(message)}`, {
      provider: ctx.provider,
      cause: err instanceof UpstreamError ? err : scrubbedError(err),
    });
  // An abort looks the same whoever fired it: tell our timers from the caller by the flags.
  if (ctx.timedOut) return retryable('provider_timeout', 'attempt timed out');
  if (ctx.callerAborted && isSwitchyardError(ctx.abortReason, 'provider_timeout')) {
    return retryable('provider_timeout', ctx.abortReason.message);
  }
  if (ctx.callerAborted) {
    return new SwitchyardError('aborted', `${ctx.provider}: the caller aborted the request`, { provider: ctx.provider, cause: err });
  }
  if (err instanceof UpstreamError) {
    if (err.status === undefined) return retryable('stream_interrupted', `stream failed: ${err.message}`);
    return fromStatus(err, ctx);
  }
  const code = errnoCode(err);
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return retryable('provider_timeout', `connection timed out (${code})`);
  if (code) return retryable('provider_unavailable', `connection failed (${code})`);
  if (err instanceof SyntaxError) return retryable('stream_interrupted', `malformed response: ${err.message}`);
  const message = err instanceof Error ? err.message : String(err);
  return retryable('provider_unavailable', message);
}
