// A fetch for the openai SDK over undici connection pools, one per upstream origin. The SDK still builds every
// request and reads every response (errors, streaming, retries off); this only replaces the WHATWG fetch
// machinery underneath, which cost most of a request's CPU in the gateway (see docs/operations.md).

import { Readable } from 'node:stream';
import { Pool } from 'undici';

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

export interface PoolFetch {
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Closes the pools and their sockets. */
  close(): Promise<void>;
}

/** A fetch with its own connection pools (one per origin), for one deployment's adapter. */
export function createPoolFetch(): PoolFetch {
  const pools = new Map<string, Pool>();
  const poolFor = (origin: string) => {
    let pool = pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
      pools.set(origin, pool);
    }
    return pool;
  };
  return {
    fetch: (input, init) => poolFetch(poolFor, input, init),
    close: async () => {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((p) => p.close().catch(() => {})));
    },
  };
}

async function poolFetch(poolFor: (origin: string) => Pool, input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const signal = init?.signal ?? undefined;
  const res = await poolFor(url.origin).request({
    method: (init?.method ?? 'GET') as 'GET',
    path: `${url.pathname}${url.search}`,
    headers: headersOf(init),
    body: (init?.body as string | Buffer | null | undefined) ?? null,
    ...(signal ? { signal } : {}),
  });
  const headers = new Headers();
  for (const [key, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(key, v);
    else if (value !== undefined) headers.set(key, value);
  }
  const empty = res.statusCode === 204 || res.statusCode === 304;
  if (empty) await res.body.dump();
  const body = empty ? null : (Readable.toWeb(res.body) as ReadableStream<Uint8Array>);
  return new Response(body, { status: res.statusCode, headers });
}
