// The JSON body parser: strict UTF-8 (invalid bytes are refused, never replaced), a bounded nesting depth, and a
// clear error for bad JSON.

import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { SwitchyardError } from '../errors.ts';

/** Deepest nesting of arrays and objects a body may have (the body object itself is level 1). */
export const defaultMaxJsonDepth = 64;

const hasBom = (b: Buffer) => b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;

const quote = 0x22;
const backslash = 0x5c;

/**
 * Whether `body` nests arrays and objects deeper than `max`. One pass over the bytes with a counter, no recursion:
 * a 20,000-deep body must be refused before JSON.parse, schema validation, serialization or token counting (all
 * of which recurse) ever see it. Brackets inside strings do not count; a malformed body is left to JSON.parse.
 * A string is skipped with indexOf (memchr) to its closing quote: the messages' text, most of a chat body, is
 * never looked at byte by byte.
 */
export function deeperThan(body: Buffer, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i] as number;
    if (byte === quote) {
      i = stringEnd(body, i);
      // An unterminated string: the rest of the body is inside it.
      if (i === -1) return false;
    }
    // [ and { open, ] and } close: compared directly, as a Set lookup per byte costs more than the rest of the loop.
    else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > max) return true;
    } else if (byte === 0x5d || byte === 0x7d) depth--;
  }
  return false;
}

/** The index of the quote closing the string opened at `open`, or -1: the first one after an even run of backslashes. */
function stringEnd(body: Buffer, open: number): number {
  for (let q = body.indexOf(quote, open + 1); q !== -1; q = body.indexOf(quote, q + 1)) {
    let b = q - 1;
    while (b > open && body[b] === backslash) b--;
    if ((q - 1 - b) % 2 === 0) return q;
  }
  return -1;
}

const invalid = (message: string) => new SwitchyardError('invalid_request', message, { param: 'body' });

export function strictJson(app: FastifyInstance, options: { maxDepth?: number } = {}) {
  const maxDepth = options.maxDepth ?? defaultMaxJsonDepth;
  // Only JSON is parsed; every other content type is answered 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    // A DELETE carries no body, but may carry the JSON content type that state-changing requests need.
    if (body.length === 0 && request.method === 'DELETE') {
      done(null, undefined);
      return;
    }
    if (body.length === 0) {
      done(invalid('the request body is empty'), undefined);
      return;
    }
    // Checked first (simdutf, cheaper than a fatal TextDecoder), so decoding never needs a replacement character.
    if (!isUtf8(body)) {
      done(invalid('the request body is not valid UTF-8'), undefined);
      return;
    }
    if (deeperThan(body, maxDepth)) {
      done(invalid(`the request body nests arrays and objects deeper than ${maxDepth} levels`), undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8', hasBom(body) ? 3 : 0));
    } catch (err) {
      done(invalid(`the request body is not valid JSON: ${(err as Error).message}`), undefined);
      return;
    }
    // Outside the try: fastify runs the route from inside done(), and its errors are not JSON errors.
    done(null, parsed);
  });
}
