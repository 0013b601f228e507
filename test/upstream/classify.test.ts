import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.ts';
import { classifyError, parseRetryAfter, UpstreamError } from '../../src/upstream/classify.ts';

const now = Date.UTC(2026, 10, 25, 12, 0, 0);
const ctx = { provider: 'p', timedOut: false, callerAborted: false, now };
const apiError = (status: number, code: string | undefined = undefined, headers: Record<string, string> = {}) =>
  new UpstreamError(status, 'upstream said no', code, new Headers(headers));

describe('classifyError', () => {
  it.each([
    [429, 'provider_rate_limited', true],
    [408, 'provider_timeout', true],
    [409, 'provider_unavailable', true],
    [500, 'provider_unavailable', true],
    [503, 'provider_unavailable', true],
    [400, 'provider_bad_request', false],
    [404, 'provider_bad_request', false],
    [422, 'provider_bad_request', false],
    [401, 'provider_auth', true],
    [403, 'provider_auth', true],
  ])('classifies status %i as %s (retryable: %s)', (status, code, retryable) => {
    expect(classifyError(apiError(status), ctx)).toMatchObject({ code, retryable, provider: 'p' });
  });

  it('recognises context_length_exceeded and content policy errors as final', () => {
    expect(classifyError(apiError(400, 'context_length_exceeded'), ctx)).toMatchObject({
      code: 'context_length_exceeded',
      retryable: false,
    });
    expect(classifyError(apiError(400, 'content_policy_violation'), ctx)).toMatchObject({ code: 'content_filtered', retryable: false });
  });

  it('tells our timeout from the caller aborting', () => {
    const abort = new Error('aborted');
    expect(classifyError(abort, { ...ctx, timedOut: true })).toMatchObject({ code: 'provider_timeout', retryable: true });
    expect(classifyError(abort, { ...ctx, callerAborted: true })).toMatchObject({ code: 'aborted', retryable: false });
  });

  it('treats connection failures as retryable', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(classifyError(new TypeError('fetch failed', { cause: refused }), ctx)).toMatchObject({
      code: 'provider_unavailable',
      retryable: true,
    });
    const connectTimeout = Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' });
    expect(classifyError(connectTimeout, ctx)).toMatchObject({ code: 'provider_timeout', retryable: true });
  });

  it('treats an error event inside a stream and a malformed body as a broken stream', () => {
    expect(classifyError(new UpstreamError(undefined, 'overloaded', undefined, new Headers()), ctx)).toMatchObject({
      code: 'stream_interrupted',
      retryable: true,
    });
    expect(classifyError(new SyntaxError('Unexpected token'), ctx)).toMatchObject({ code: 'stream_interrupted', retryable: true });
  });

  it('keeps an error that is already classified', () => {
    const err = new SwitchyardError('stream_interrupted', 'cut', { retryable: true });
    expect(classifyError(err, ctx)).toBe(err);
  });
});

describe('parseRetryAfter', () => {
  const h = (headers: Record<string, string>) => new Headers(headers);
  it('reads seconds, milliseconds and HTTP dates', () => {
    expect(parseRetryAfter(h({ 'retry-after': '2' }), now)).toBe(2000);
    expect(parseRetryAfter(h({ 'retry-after': '1.5' }), now)).toBe(1500);
    expect(parseRetryAfter(h({ 'retry-after-ms': '250', 'retry-after': '9' }), now)).toBe(250);
    expect(parseRetryAfter(h({ 'retry-after': new Date(now + 30_000).toUTCString() }), now)).toBe(30_000);
  });

  it('ignores absent or unparsable values and never goes negative', () => {
    expect(parseRetryAfter(h({}), now)).toBeUndefined();
    expect(parseRetryAfter(h({ 'retry-after': 'soon' }), now)).toBeUndefined();
    // Sent twice, joined by the HTTP parser: the first value, not a date in the past (0 ms).
    expect(parseRetryAfter(h({ 'retry-after': '3, 5' }), now)).toBe(3000);
    expect(parseRetryAfter(h({ 'retry-after': '7,7' }), now)).toBe(7000);
    expect(parseRetryAfter(h({ 'retry-after': new Date(now - 5000).toUTCString() }), now)).toBe(0);
  });

  it('carries the Retry-After of a 429 into the error', () => {
    expect(classifyError(apiError(429, undefined, { 'retry-after': '3' }), ctx).retryAfterMs).toBe(3000);
  });
});
