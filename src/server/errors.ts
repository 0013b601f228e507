// Maps every failure to OpenAI's error body `{ error: { message, type, code, param } }` and an HTTP status, so
// the openai SDK raises its usual typed errors. Routes throw; this is the one place that answers.

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type AttemptRecord, defaultStatus, type ErrorCode, isSwitchyardError, SwitchyardError } from '../errors.ts';

export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
  /** Switchyard's own fields (SDKs ignore them): whether a retry may succeed, and the attempts made. */
  switchyard?: { retryable: boolean; attempts: readonly AttemptRecord[] };
}

function typeOf(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function openAIError(status: number, code: string, message: string, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type: typeOf(status), code, param } };
}

/** A JSON pointer from a validation error (`/messages/0/role`) as a field path (`messages[0].role`). */
function fieldOf(instancePath: string, missing: unknown): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (typeof missing === 'string') parts.push(missing);
  return parts.reduce((path, p) => (/^\d+$/.test(p) ? `${path}[${p}]` : path ? `${path}.${p}` : p), '');
}

function statusOfSwitchyard(err: SwitchyardError): number {
  return err.status >= 400 && err.status < 600 ? err.status : defaultStatus(err.code);
}

// fastify's body-parser failures as our codes; each code's status comes from the one table in src/errors.ts.
const parserFailures: Partial<Record<string, { code: ErrorCode; message: string; param?: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'request_too_large', message: 'the request body is larger than allowed' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', message: 'send the body as application/json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_request', message: 'the request body is empty', param: 'body' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'invalid_request',
    message: 'the content length does not match the body',
    param: 'body',
  },
};

function answerOf(code: ErrorCode, message: string, param: string | null = null) {
  const status = defaultStatus(code);
  return { status, headers: {}, body: openAIError(status, code, message, param) };
}

/** The status, headers and body that answer `err`. */
export function answerFor(err: unknown): { status: number; body: OpenAIErrorBody; headers: Record<string, string> } {
  if (isSwitchyardError(err)) {
    const status = statusOfSwitchyard(err);
    const headers: Record<string, string> = {};
    // Whatever the status: a client that honours Retry-After waits for the next probe or the upstream's own.
    if (err.retryAfterMs !== undefined) headers['retry-after'] = String(Math.ceil(err.retryAfterMs / 1000));
    if (err.attempts) headers['x-switchyard-attempts'] = String(err.attempts.length);
    const body = openAIError(status, err.code, err.message, err.param ?? null);
    return { status, headers, body: { ...body, switchyard: { retryable: err.retryable, attempts: err.attempts ?? [] } } };
  }
  const e = err as FastifyError;
  if (Array.isArray(e.validation) && e.validation.length > 0) {
    const first = e.validation[0] as { instancePath?: string; message?: string; params?: { missingProperty?: unknown } };
    const param = fieldOf(first.instancePath ?? '', first.params?.missingProperty);
    return answerOf('invalid_request', `${param || 'body'}: ${first.message ?? 'is invalid'}`, param || null);
  }
  const parseFailure = parserFailures[e.code ?? ''];
  if (parseFailure) return answerOf(parseFailure.code, parseFailure.message, parseFailure.param);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, headers: {}, body: openAIError(e.statusCode, 'invalid_request', e.message) };
  }
  return answerOf('internal_error', 'internal error');
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const { status, body, headers } = answerFor(err);
  if (status >= 500) request.log.error({ err }, 'request failed');
  else request.log.info({ code: body.error.code, status }, 'request refused');
  void reply.code(status).headers(headers).send(body);
}

/** The longest piece of a request's path echoed in the 404's message. */
const maxPathInMessage = 200;

/**
 * A route nobody serves: `unsupported_route`, naming the route (OpenAI routes this gateway does not serve, such
 * as /v1/images/generations, and anything else). The code is not model-ish on purpose: a client must not read
 * a missing route as a missing model.
 */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  const path = (request.url.split('?')[0] ?? '').slice(0, maxPathInMessage);
  const err = new SwitchyardError('unsupported_route', `this gateway does not serve ${request.method} ${path} (see docs/api.md)`);
  const { status, body } = answerFor(err);
  void reply.code(status).send({ error: body.error });
}
