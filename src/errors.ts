// Switchyard's one error type. The `code` is the contract; messages may change.

/** Every stable error code Switchyard produces. */
export type ErrorCode =
  | 'provider_timeout'
  | 'provider_rate_limited'
  | 'provider_unavailable'
  | 'provider_bad_request'
  | 'provider_auth'
  | 'provider_circuit_open'
  | 'context_length_exceeded'
  | 'content_filtered'
  | 'stream_interrupted'
  | 'aborted'
  | 'model_not_found'
  | 'conversation_not_found'
  | 'conversation_exists'
  | 'conversation_busy'
  | 'context_overflow'
  | 'provider_not_found'
  | 'no_provider_available'
  | 'deadline_exceeded'
  | 'invalid_config'
  | 'invalid_request'
  | 'internal_error'
  // Limits and robustness (issue 14): what a client or an upstream may grow, and a store that cannot write.
  | 'upstream_response_too_large'
  | 'idempotency_key_reused'
  | 'store_unavailable'
  | 'conversation_quota_exceeded'
  | 'system_prompt_too_large'
  | 'message_too_large'
  | 'inspector_busy'
  | 'shutting_down';

/** One attempt of a request on one deployment, as reported with results and errors. */
export interface AttemptRecord {
  deployment: string;
  /** `ok`, or the error code the attempt ended with. */
  outcome: 'ok' | ErrorCode;
  latencyMs: number;
  /** Started as a hedge while an earlier attempt was still waiting for its first token. */
  hedge?: boolean;
  /** Continued a stream that broke after delivering tokens. */
  continuation?: boolean;
}

export interface SwitchyardErrorOptions {
  /** HTTP status to answer with, where the error has one. */
  status?: number;
  /** Whether another attempt (on this or another deployment) may succeed. */
  retryable?: boolean;
  /** A server's `Retry-After`, converted to milliseconds from now. */
  retryAfterMs?: number;
  /** The deployment the error came from. */
  provider?: string;
  /** The JSON path of the offending field, for input and config errors. */
  param?: string;
  /** The attempts made before the request gave up. */
  attempts?: readonly AttemptRecord[];
  cause?: unknown;
}

/** The error class of Switchyard: a stable `code`, an HTTP status where it has one, and its `cause`. */
export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly provider: string | undefined;
  readonly param: string | undefined;
  readonly attempts: readonly AttemptRecord[] | undefined;

  constructor(code: ErrorCode, message: string, options: SwitchyardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwitchyardError';
    this.code = code;
    this.status = options.status;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.provider = options.provider;
    this.param = options.param;
    this.attempts = options.attempts;
  }
}

/** Narrows an unknown value to a SwitchyardError, optionally of one code. */
export function isSwitchyardError(value: unknown, code?: ErrorCode): value is SwitchyardError {
  return value instanceof SwitchyardError && (code === undefined || value.code === code);
}

/** The HTTP status an error code answers with when the error carries none of its own. */
const statusByCode: Partial<Record<ErrorCode, number>> = {
  aborted: 499,
  invalid_request: 400,
  invalid_config: 400,
  provider_bad_request: 400,
  context_length_exceeded: 400,
  content_filtered: 400,
  model_not_found: 404,
  conversation_not_found: 404,
  provider_not_found: 404,
  conversation_exists: 409,
  context_overflow: 413,
  provider_rate_limited: 429,
  provider_auth: 502,
  provider_unavailable: 502,
  stream_interrupted: 502,
  provider_circuit_open: 503,
  no_provider_available: 503,
  provider_timeout: 504,
  deadline_exceeded: 504,
  internal_error: 500,
  // Limits and robustness. Quotas are 403/413, not 429: retrying the same request cannot succeed, and the
  // openai SDK retries 409 and 429 on its own.
  upstream_response_too_large: 502,
  idempotency_key_reused: 422,
  store_unavailable: 503,
  conversation_quota_exceeded: 403,
  system_prompt_too_large: 413,
  message_too_large: 413,
  inspector_busy: 503,
  shutting_down: 503,
};

export function defaultStatus(code: string): number {
  return statusByCode[code as ErrorCode] ?? 500;
}
