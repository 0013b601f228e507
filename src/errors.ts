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
  | 'invalid_api_key'
  | 'forbidden'
  | 'misdirected_request'
  | 'unsupported_media_type'
  | 'internal_error'
  | 'request_too_large'
  // Limits and robustness (issue 14): what a client or an upstream may grow, and a store that cannot write.
  | 'upstream_response_too_large'
  | 'idempotency_key_reused'
  | 'store_unavailable'
  | 'conversation_quota_exceeded'
  | 'system_prompt_too_large'
  | 'message_too_large'
  | 'inspector_busy'
  | 'shutting_down'
  // The OpenAI API as clients use it (issue 16): a route of OpenAI's API this gateway does not serve.
  | 'unsupported_route'
  // The Responses API (issue 16): a stored response this tenant does not have, named directly or as previous_response_id.
  | 'response_not_found'
  | 'previous_response_not_found'
  // Conversations across instances (issue 18): another instance holds the conversation's write lease.
  | 'conversation_moved'
  // Rollouts and experiments (issue 20): an unknown id on the admin routes, or a command the state refuses.
  | 'experiment_not_found'
  | 'rollout_not_found'
  | 'rollout_state_conflict'
  // Per-tenant budgets (issue 17): the caller's tenant spent its rpm/tpm budget.
  | 'rate_limited'
  // OpenAI's Conversations API (issue 16): an item id that the conversation does not hold.
  | 'conversation_item_not_found';

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

/** What a request did before it answered or gave up: the logical model, who served, every attempt. */
export interface RouteInfo {
  /** The logical model requested. */
  model: string;
  /** Deployments that delivered the answer, in order (more than one when a stream was continued). */
  deployments: string[];
  attempts: AttemptRecord[];
  /** A stream broke after delivering tokens and another deployment continued it. */
  continued: boolean;
  /** The experiment variant or rollout arm that answered (src/rollout), when the model is split. */
  variant?: string;
}

/** Each code's HTTP status and whether another attempt may succeed, unless the error says otherwise. */
const contract: Record<ErrorCode, { status: number; retryable: boolean }> = {
  provider_timeout: { status: 504, retryable: true },
  provider_rate_limited: { status: 429, retryable: true },
  provider_unavailable: { status: 502, retryable: true },
  provider_bad_request: { status: 400, retryable: false },
  // The deployment's own key was refused: another deployment (another key) may well answer, so fail over, and
  // the deployment counts it as a failure (a revoked key takes it out of rotation until a probe passes).
  provider_auth: { status: 502, retryable: true },
  provider_circuit_open: { status: 503, retryable: true },
  context_length_exceeded: { status: 400, retryable: false },
  content_filtered: { status: 400, retryable: false },
  stream_interrupted: { status: 502, retryable: true },
  aborted: { status: 499, retryable: false },
  model_not_found: { status: 404, retryable: false },
  conversation_not_found: { status: 404, retryable: false },
  conversation_exists: { status: 409, retryable: false },
  conversation_busy: { status: 409, retryable: true },
  context_overflow: { status: 413, retryable: false },
  provider_not_found: { status: 404, retryable: false },
  no_provider_available: { status: 503, retryable: false },
  deadline_exceeded: { status: 504, retryable: false },
  invalid_config: { status: 400, retryable: false },
  invalid_request: { status: 400, retryable: false },
  invalid_api_key: { status: 401, retryable: false },
  forbidden: { status: 403, retryable: false },
  unsupported_media_type: { status: 415, retryable: false },
  misdirected_request: { status: 421, retryable: false },
  internal_error: { status: 500, retryable: false },
  request_too_large: { status: 413, retryable: false },
  // Limits and robustness. Quotas are 403/413, not 429: retrying the same request cannot succeed, and the
  // openai SDK retries 409 and 429 on its own. An oversized upstream answer is that deployment's failure.
  upstream_response_too_large: { status: 502, retryable: true },
  idempotency_key_reused: { status: 422, retryable: false },
  store_unavailable: { status: 503, retryable: true },
  conversation_quota_exceeded: { status: 403, retryable: false },
  system_prompt_too_large: { status: 413, retryable: false },
  message_too_large: { status: 413, retryable: false },
  inspector_busy: { status: 503, retryable: true },
  shutting_down: { status: 503, retryable: true },
  // Not model_not_found: clients that label every 404 as a missing model (LangChain) still show this message.
  unsupported_route: { status: 404, retryable: false },
  response_not_found: { status: 404, retryable: false },
  previous_response_not_found: { status: 404, retryable: false },
  // The same turn sent again (same idempotency key) reaches the conversation where it now lives, or replays.
  conversation_moved: { status: 409, retryable: true },
  experiment_not_found: { status: 404, retryable: false },
  rollout_not_found: { status: 404, retryable: false },
  // Pausing a promoted rollout, resuming one that is not paused: the state says why, nothing changed.
  rollout_state_conflict: { status: 409, retryable: false },
  // The tenant's own budget, not an upstream's 429 (provider_rate_limited): Retry-After says when it has room.
  rate_limited: { status: 429, retryable: true },
  conversation_item_not_found: { status: 404, retryable: false },
};

export interface SwitchyardErrorOptions {
  /** HTTP status, when it differs from the code's (an upstream's own 4xx, say). */
  status?: number;
  /** Whether another attempt (on this or another deployment) may succeed, when it differs from the code's. */
  retryable?: boolean;
  /** A server's `Retry-After`, converted to milliseconds from now. */
  retryAfterMs?: number;
  /** The deployment the error came from. */
  provider?: string;
  /** The JSON path of the offending field, for input and config errors. */
  param?: string;
  /** The attempts made before the request gave up. */
  attempts?: readonly AttemptRecord[];
  /** The request's route when it gave up: its model and attempts. */
  route?: RouteInfo;
  cause?: unknown;
}

/** The error class of Switchyard: a stable `code`, its HTTP status, whether it is retryable, and its `cause`. */
export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly provider: string | undefined;
  readonly param: string | undefined;
  readonly attempts: readonly AttemptRecord[] | undefined;
  readonly route: RouteInfo | undefined;

  constructor(code: ErrorCode, message: string, options: SwitchyardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwitchyardError';
    this.code = code;
    this.status = options.status ?? contract[code].status;
    this.retryable = options.retryable ?? contract[code].retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.provider = options.provider;
    this.param = options.param;
    this.route = options.route;
    this.attempts = options.attempts ?? options.route?.attempts;
  }

  /** The same error as a request's final error: every field kept, the request's route (and attempts) added. */
  withRoute(route: RouteInfo): SwitchyardError {
    return new SwitchyardError(this.code, this.message, {
      status: this.status,
      retryable: this.retryable,
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
      ...(this.provider === undefined ? {} : { provider: this.provider }),
      ...(this.param === undefined ? {} : { param: this.param }),
      route,
      cause: this.cause ?? this,
    });
  }
}

/** Narrows an unknown value to a SwitchyardError, optionally of one code. */
export function isSwitchyardError(value: unknown, code?: ErrorCode): value is SwitchyardError {
  return value instanceof SwitchyardError && (code === undefined || value.code === code);
}

/** Anything but a SwitchyardError is a bug of ours: reported as a final internal_error. */
export function asSwitchyard(err: unknown): SwitchyardError {
  return isSwitchyardError(err) ? err : new SwitchyardError('internal_error', `unexpected failure: ${String(err)}`, { cause: err });
}

/** The HTTP status of an error code. */
export function defaultStatus(code: string): number {
  return (contract as Partial<Record<string, { status: number }>>)[code]?.status ?? 500;
}
