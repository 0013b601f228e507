// The guard of a server without keys. It listens on loopback only, but a browser on the same machine can still
// reach it: a page on another site can rebind its DNS name to 127.0.0.1 (then the Host header names that site)
// or send a "simple" cross-origin request, which needs no preflight: GET, HEAD or POST with no body or a
// text/plain, form or multipart body. Requiring a loopback Host and a JSON content type on state-changing
// requests leaves a browser only requests it must preflight, which this server never approves.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SwitchyardError } from '../errors.ts';

// A browser sends GET, HEAD and POST cross-origin without a preflight ("simple" requests); PUT, PATCH and DELETE
// always ask first, and this server never approves. So only a POST must prove it is JSON; a DELETE carries no
// body, and the openai SDK sends it without a content type.
const simpleStateChange = 'POST';
const commonLoopback = /^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?$/;

/** Whether a Host header names this machine: localhost (or a name under it), 127.0.0.0/8 or ::1, any port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined || host === '') return false;
  // The common spellings without building a URL (this runs on every request).
  if (commonLoopback.test(host)) return true;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name === '[::1]') return true;
  // The URL parser normalizes IPv4 forms (127.1, 0x7f.0.0.1) to dotted quads.
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

const isJson = (request: FastifyRequest) => {
  const type = request.headers['content-type'];
  // The spelling every client sends, compared as it is; any other is normalized first.
  return type === 'application/json' || (type ?? '').split(';')[0]?.trim().toLowerCase() === 'application/json';
};

/**
 * Installs the keyless guard on every route of `app`: 421 for a foreign Host, 415 for a non-JSON POST. A callback
 * hook: fastify needs no promise per request for it.
 */
export function keylessGuard(app: FastifyInstance) {
  app.addHook('onRequest', (request, _reply, done) => {
    if (!isLoopbackHost(request.headers.host)) {
      return done(
        new SwitchyardError(
          'misdirected_request',
          'without API keys this server answers only to a loopback Host (localhost, 127.0.0.1, [::1])',
        ),
      );
    }
    if (request.method === simpleStateChange && !isJson(request)) {
      return done(new SwitchyardError('unsupported_media_type', `${request.method} needs content-type: application/json`));
    }
    done();
  });
}
