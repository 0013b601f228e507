// The JSON body parser: strict UTF-8 (invalid bytes are refused, never replaced) and a clear error for bad JSON.

import type { FastifyInstance } from 'fastify';
import { SwitchyardError } from '../errors.ts';

const decoder = new TextDecoder('utf-8', { fatal: true });

export function strictJson(app: FastifyInstance) {
  // Only JSON is parsed; every other content type is answered 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
    if (body.length === 0) {
      done(new SwitchyardError('invalid_request', 'the request body is empty', { status: 400, param: 'body' }), undefined);
      return;
    }
    let text: string;
    try {
      text = decoder.decode(body);
    } catch {
      done(new SwitchyardError('invalid_request', 'the request body is not valid UTF-8', { status: 400, param: 'body' }), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(
        new SwitchyardError('invalid_request', `the request body is not valid JSON: ${(err as Error).message}`, {
          status: 400,
          param: 'body',
        }),
        undefined,
      );
    }
  });
}
