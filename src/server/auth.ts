// Bearer-key authentication, compared in constant time. Health endpoints stay open for load balancers.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { openAIError } from './errors.ts';

// Health endpoints stay open, also under a prefix when mounted as a plugin.
const isOpen = (url: string) => {
  const path = url.split('?')[0] ?? '';
  return path.endsWith('/healthz') || path.endsWith('/readyz');
};
const digest = (key: string) => createHash('sha256').update(key).digest();

/** API keys from the option, else from SWITCHYARD_API_KEYS (comma-separated). */
export function apiKeysFrom(option: string[] | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const keys = option ?? (env.SWITCHYARD_API_KEYS ?? '').split(',');
  return keys.map((k) => k.trim()).filter((k) => k !== '');
}

export function bearerAuth(app: FastifyInstance, keys: string[]) {
  // Hashing makes every comparison the same length, so timingSafeEqual applies and leaks nothing of the keys.
  const digests = keys.map(digest);
  app.addHook('onRequest', async (request, reply) => {
    if (isOpen(request.url)) return;
    const header = request.headers.authorization ?? '';
    let token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    // A browser's EventSource cannot send headers: the inspector passes its key as ?key=.
    if (token === '' && request.url.includes('/inspect')) token = new URL(request.url, 'http://x').searchParams.get('key') ?? '';
    const given = digest(token);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    if (!ok || token === '') {
      // Close the connection: an unauthenticated client must not keep it (or a trickling body) open.
      return reply
        .code(401)
        .header('connection', 'close')
        .send(openAIError(401, 'invalid_api_key', 'missing or invalid API key: send Authorization: Bearer <key>'));
    }
  });
}
