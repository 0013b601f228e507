// Bearer-key authentication, compared in constant time. Health endpoints stay open for load balancers.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { openAIError } from './errors.ts';

const openPaths = new Set(['/healthz', '/readyz']);

/**
 * Whether the route the router matched is an open health endpoint. The decision uses the router's own
 * matched route, never the raw URL: the router stops reading at `#` or `?` and decodes `%2F` its own way, so
 * any string test on `request.url` (an `endsWith('/healthz')`) can be made true for a protected route.
 */
function isOpen(request: FastifyRequest, prefix: string): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const url = request.routeOptions.url;
  if (url === undefined || !url.startsWith(prefix)) return false;
  return openPaths.has(url.slice(prefix.length));
}
const digest = (key: string) => createHash('sha256').update(key).digest();

/** API keys from the option, else from SWITCHYARD_API_KEYS (comma-separated). */
export function apiKeysFrom(option: string[] | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const keys = option ?? (env.SWITCHYARD_API_KEYS ?? '').split(',');
  return keys.map((k) => k.trim()).filter((k) => k !== '');
}

/** The onRequest hook that answers 401 unless the request carries one of `keys` (or its route is open). */
export function authenticator(keys: string[], prefix = '') {
  // Hashing makes every comparison the same length, so timingSafeEqual applies and leaks nothing of the keys.
  const digests = keys.map(digest);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (isOpen(request, prefix)) return;
    const header = request.headers.authorization ?? '';
    let token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    // A browser's EventSource cannot send headers: the inspector passes its key as ?key=.
    if (token === '' && request.url.includes('/inspect')) token = new URL(request.url, 'http://x').searchParams.get('key') ?? '';
    const given = digest(token);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    if (!ok || token === '') {
      return reply.code(401).send(openAIError(401, 'invalid_api_key', 'missing or invalid API key: send Authorization: Bearer <key>'));
    }
  };
}

export function bearerAuth(app: FastifyInstance, keys: string[]) {
  app.addHook('onRequest', authenticator(keys, app.prefix));
}
