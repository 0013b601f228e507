// The JSON body parser: strict UTF-8 (invalid bytes are refused, never replaced) and a clear error for bad JSON.

import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { SwitchyardError } from '../errors.ts';

const hasBom = (b: Buffer) => b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;

export function strictJson(app: FastifyInstance) {
  // Only JSON is parsed; every other content type is answered 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
    if (body.length === 0) {
      done(new SwitchyardError('invalid_request', 'the request body is empty', { param: 'body' }), undefined);
      return;
    }
    // Checked first (simdutf, cheaper than a fatal TextDecoder), so decoding never needs a replacement character.
    if (!isUtf8(body)) {
      done(new SwitchyardError('invalid_request', 'the request body is not valid UTF-8', { param: 'body' }), undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8', hasBom(body) ? 3 : 0));
    } catch (err) {
      done(
        new SwitchyardError('invalid_request', `the request body is not valid JSON: ${(err as Error).message}`, {
          param: 'body',
        }),
        undefined,
      );
      return;
    }
    // Outside the try: fastify runs the route from inside done(), and its errors are not JSON errors.
    done(null, parsed);
  });
}
