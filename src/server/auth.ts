// Bearer keys with a tenant and a role, compared in constant time. Which routes a role reaches is decided on
// the route the router matched (never on the raw URL): health endpoints are open, chat, models and the
// caller's own conversations need a user key, everything else (providers, metrics, the inspector) an admin key.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ApiKeyConfig, type Role, tenantOfKey } from '../config/auth.ts';
import { SwitchyardError } from '../errors.ts';

export type { ApiKeyConfig, Role };

/** Who made a request: the tenant and role of its key. */
export interface Principal {
  tenant: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's key; null when the server runs without keys (loopback only, every caller is the operator). */
    principal: Principal | null;
  }
}

type Access = 'open' | 'user' | 'admin';

/** Routes (as the router names them, below the plugin's prefix) and who may call them; any other is admin's. */
const routeAccess: Record<string, Access> = {
  '/healthz': 'open',
  '/readyz': 'open',
  '/v1/models': 'user',
  '/v1/models/:id': 'user',
  '/v1/embeddings': 'user',
  '/v1/chat/completions': 'user',
  '/v1/responses': 'user',
  '/v1/responses/:id': 'user',
  '/v1/conversations': 'user',
  '/v1/conversations/:id': 'user',
  '/v1/conversations/:id/messages': 'user',
  '/v1/conversations/:id/items': 'user',
  '/v1/conversations/:id/items/:item_id': 'user',
};

/** The only routes that take `?key=`: what a browser opens without headers (the page and its EventSource). */
const keyInQuery = new Set(['/inspect', '/inspect/events']);

/** The matched route below `prefix`, or null when nothing matched (a 404, which every valid key may learn). */
function routeOf(request: FastifyRequest, prefix: string): string | null {
  const url = request.routeOptions.url;
  if (url === undefined || !url.startsWith(prefix)) return null;
  return url.slice(prefix.length) || '/';
}

function accessOf(request: FastifyRequest, route: string | null): Access {
  if (route === null) return 'user';
  const access = routeAccess[route] ?? 'admin';
  // Only reading health is open; any other method on those paths needs a key like everything else.
  if (access === 'open' && request.method !== 'GET' && request.method !== 'HEAD') return 'user';
  return access;
}

/** API keys from the option, else from the environment variable (comma-separated). */
export function apiKeysFrom(option: string[] | undefined, env: NodeJS.ProcessEnv = process.env, name = 'SWITCHYARD_API_KEYS'): string[] {
  const keys = option ?? (env[name] ?? '').split(',');
  return keys.map((k) => k.trim()).filter((k) => k !== '');
}

/**
 * The key table: `keys` (from the config, with tenant and role), user keys (SWITCHYARD_API_KEYS) and admin
 * keys (SWITCHYARD_ADMIN_KEYS), the last two each their own tenant. A key listed with two roles is refused.
 */
export function keyTable(
  options: { apiKeys?: string[] | undefined; adminKeys?: string[] | undefined; keys?: ApiKeyConfig[] | undefined },
  env: NodeJS.ProcessEnv = process.env,
): ApiKeyConfig[] {
  const table = new Map<string, ApiKeyConfig>();
  const add = (entry: ApiKeyConfig) => {
    const known = table.get(entry.key);
    if (known && (known.role !== entry.role || known.tenant !== entry.tenant)) {
      throw new SwitchyardError('invalid_config', 'an API key is listed twice with different roles or tenants', { param: 'auth.keys' });
    }
    table.set(entry.key, entry);
  };
  for (const entry of options.keys ?? []) add(entry);
  for (const key of apiKeysFrom(options.apiKeys, env)) add({ key, tenant: tenantOfKey(key), role: 'user' });
  for (const key of apiKeysFrom(options.adminKeys, env, 'SWITCHYARD_ADMIN_KEYS')) add({ key, tenant: tenantOfKey(key), role: 'admin' });
  return [...table.values()];
}

const digest = (key: string) => createHash('sha256').update(key).digest();
const bearer = /^bearer /i;

/**
 * The hook that authenticates a request and checks its route's role; fails it with 401 or 403 as typed errors.
 * A callback hook, not an async one: it decides synchronously, and fastify then needs no promise per request.
 */
export function authenticator(keys: readonly ApiKeyConfig[], prefix = '') {
  const check = keyCheck(keys, prefix);
  return (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    try {
      check(request, reply);
    } catch (err) {
      return done(err as Error);
    }
    done();
  };
}

function keyCheck(keys: readonly ApiKeyConfig[], prefix: string) {
  // Hashing makes every comparison the same length, so timingSafeEqual applies and leaks nothing of the keys.
  const entries = keys.map((k) => ({ digest: digest(k.key), principal: { tenant: k.tenant, role: k.role } }));
  return (request: FastifyRequest, reply: FastifyReply) => {
    const route = routeOf(request, prefix);
    const access = accessOf(request, route);
    if (access === 'open') return;
    const header = request.headers.authorization ?? '';
    // The scheme is case-insensitive (RFC 9110); the key is not.
    let token = bearer.test(header) ? header.slice('Bearer '.length) : '';
    // A browser cannot send headers when it opens a page or an EventSource: those two routes take ?key=.
    const query = request.query as { key?: unknown } | undefined;
    if (token === '' && request.method === 'GET' && route !== null && keyInQuery.has(route) && typeof query?.key === 'string') {
      token = query.key;
    }
    const given = digest(token);
    let found: Principal | null = null;
    // Every entry is compared, whichever matches: the time taken does not depend on which key was sent.
    for (const entry of entries) if (timingSafeEqual(entry.digest, given) && token !== '') found = entry.principal;
    if (!found) {
      // Close the connection: an unauthenticated client must not keep it (or a trickling body) open.
      reply.header('connection', 'close');
      throw new SwitchyardError('invalid_api_key', 'missing or invalid API key: send Authorization: Bearer <key>');
    }
    if (access === 'admin' && found.role !== 'admin') throw new SwitchyardError('forbidden', 'this route needs an admin key');
    request.principal = found;
  };
}

/** Installs authentication on a plugin's routes. */
export function bearerAuth(app: FastifyInstance, keys: readonly ApiKeyConfig[]) {
  decoratePrincipal(app);
  app.addHook('onRequest', authenticator(keys, app.prefix));
}

/** Declares `request.principal` (null until a key is checked), once per app tree. */
export function decoratePrincipal(app: FastifyInstance) {
  if (!app.hasRequestDecorator('principal')) app.decorateRequest('principal', null);
}

/**
 * The tenant a request's conversation calls are scoped to: a user key's tenant; none for admins and for a
 * server without keys (they reach every conversation).
 */
export function scopeOf(request: FastifyRequest): { tenant?: string } {
  const p = request.principal;
  return p && p.role === 'user' ? { tenant: p.tenant } : {};
}

/** The tenant a request's rpm/tpm budget is charged to: its key's; none without keys. */
export function tenantOf(request: FastifyRequest): string | undefined {
  return request.principal?.tenant;
}

/** The tenant that owns what a request creates: its key's tenant, or null without keys. */
export function ownerOf(request: FastifyRequest): string | null {
  return request.principal?.tenant ?? null;
}

/** A URL for the logs: secrets passed in the query (the inspector's ?key=) are replaced. */
export function redactUrl(url: string): string {
  return url.replace(/([?&;](?:key|api_key|api-key|token|access_token)=)[^&#;]*/gi, '$1[redacted]');
}
