// Writes a routed stream to a client as the Responses API's named events (composed by
// src/upstream/responses-stream.ts), under the same bounds and shutdown as chat streams (sse.ts). Nothing is
// sent before the first token, so a stream that fails before it answers with a status like a plain request.

import type { FastifyReply } from 'fastify';
import type { ChatStreamEvent } from '../routing/request.ts';
import type { ResponsesStreamComposer } from '../upstream/responses-stream.ts';
import { answerFor } from './errors.ts';
import type { Metrics } from './metrics.ts';
import { openEventStream } from './sse.ts';

export async function writeResponsesSse(
  reply: FastifyReply,
  composer: ResponsesStreamComposer,
  events: AsyncGenerator<ChatStreamEvent>,
  options: {
    model: string;
    headers?: Record<string, string>;
    metrics?: Metrics | undefined;
    /** The final Response, before its event is written (a client reading it back finds it stored). */
    onEnd(response: Record<string, unknown>): void;
  },
) {
  const { model, metrics } = options;
  const startedAt = performance.now();
  const first = await events.next(); // throws before any byte is written: the error handler answers
  metrics?.observeFirstToken(model, (performance.now() - startedAt) / 1000);
  const deployment = first.done ? '' : first.value.type === 'delta' ? first.value.deployment : (first.value.route.deployments[0] ?? '');
  const stream = openEventStream(reply, { ...(deployment ? { 'x-switchyard-deployment': deployment } : {}), ...options.headers }, (err) =>
    composer.fail(answerFor(err).body),
  );
  try {
    for (let next = first; !next.done; next = await events.next()) {
      const event = next.value;
      if (event.type === 'delta') {
        const text = composer.delta(event);
        if (text !== '' && !(await stream.write(text))) return;
        continue;
      }
      const { text, response } = composer.end(event);
      options.onEnd(response);
      if (!(await stream.write(text))) return;
      metrics?.observeRoute(model, event.route, 'ok', event.usage);
    }
    stream.end();
  } catch (err) {
    // Headers are gone: the failure travels as response.failed and an error event, which the SDKs raise.
    stream.end(composer.fail(answerFor(err).body));
    metrics?.observeError(model, err);
  } finally {
    stream.close();
    // A client cut or gone while the loop waited: stop the upstream stream now rather than at its next event.
    await events.return(undefined).catch(() => {});
  }
}
