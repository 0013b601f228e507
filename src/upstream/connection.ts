// What both adapters of a deployment (chat completions and Responses) share: the connection pool, the request
// headers, the answer cap, and the classifier that keeps the deployment's secrets out of every error.

import { Pool } from 'undici';
import type { SwitchyardError } from '../errors.ts';
import { classifyError } from './classify.ts';
import { withoutSecrets } from './scrub.ts';
import type { AttemptSignal } from './signals.ts';

/** Default of `maxResponseBytes`: far above any real completion, far below what exhausts the heap. */
export const defaultMaxResponseBytes = 32 * 1024 * 1024; // the config schema's default of providers[].maxResponseBytes

export interface ConnectionOptions {
  id: string;
  baseURL: string;
  apiKey?: string | undefined;
  headers?: Record<string, string> | undefined;
  maxResponseBytes?: number | undefined;
}

export function upstreamConnection(options: ConnectionOptions) {
  const base = new URL(options.baseURL);
  // What this deployment sends as secrets: never shown back, whatever an upstream echoes.
  const secrets = [options.apiKey ?? '', ...Object.values(options.headers ?? {})];
  return {
    /** The path of `route` under the deployment's base URL (its query kept). */
    pathOf: (route: string) => `${base.pathname.replace(/\/+$/, '')}/${route}${base.search}`,
    // Our timers decide how long an attempt may take; undici's own would only race them.
    pool: new Pool(base.origin, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 }),
    headers: {
      'content-type': 'application/json',
      'user-agent': 'switchyard',
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      // Lower-cased, so that a configured `Authorization` replaces ours instead of going out beside it.
      ...Object.fromEntries(Object.entries(options.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])),
    } as Record<string, string>,
    maxResponseBytes: options.maxResponseBytes ?? defaultMaxResponseBytes,
    classify: (err: unknown, attempt: AttemptSignal): SwitchyardError =>
      withoutSecrets(
        classifyError(err, {
          provider: options.id,
          timedOut: attempt.timedOut,
          // With a shared controller the signal is the caller's: aborted and not by our timer.
          callerAborted: (attempt.caller?.aborted ?? false) && !attempt.timedOut,
          abortReason: attempt.caller?.reason,
          now: Date.now(),
        }),
        secrets,
      ),
  };
}
