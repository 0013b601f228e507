// Writes a runtime stream to a client as OpenAI's SSE, within bounds: a write waits for `drain` when the socket's
// buffer is full, a client that leaves more than `bufferBytes` unread or does not read for `stallMs` is cut, and
// cutting it aborts the upstream call through the client-gone signal. The server's shutdown ends every open
// stream with an error event when its drain time runs out (endOpenStreams).

import { randomUUID } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { SwitchyardError } from '../errors.ts';
import { limitDefaults } from '../limits.ts';
import type { ChatStreamEvent } from '../routing/request.ts';
import { answerFor } from './errors.ts';
import type { Metrics } from './metrics.ts';

export interface SseLimits {
  /** Bytes a client may leave unread before it is cut. */
  bufferBytes: number;
  /** How long a write may wait for the client to read before it is cut, in ms. */
  stallMs: number;
}

export const sseDefaults: SseLimits = { bufferBytes: limitDefaults.sseBufferBytes, stallMs: limitDefaults.sseStallMs };

/** The streams open on one HTTP server, and its limits: keyed by the server so that plugins need no wiring. */
interface Streams {
  limits: SseLimits;
  open: Set<(err: SwitchyardError) => void>;
}

const byServer = new WeakMap<Server, Streams>();
const controllers = new WeakMap<ServerResponse, AbortController>();

function streamsOf(server: Server): Streams {
  let streams = byServer.get(server);
  if (!streams) {
    streams = { limits: { ...sseDefaults }, open: new Set() };
    byServer.set(server, streams);
  }
  return streams;
}

/** Sets the SSE limits of every stream written on `server`. */
export function configureSse(server: Server, limits: Partial<SseLimits>) {
  Object.assign(streamsOf(server).limits, limits);
}

/** Ends every stream open on `server` with `err` as a final error event and aborts their upstream calls. */
export function endOpenStreams(server: Server, err: SwitchyardError): number {
  const open = [...streamsOf(server).open];
  for (const end of open) end(err);
  return open.length;
}

/** An abort signal that fires when the client goes away before the answer is complete, or is cut by the writer. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  controllers.set(reply.raw, controller);
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new SwitchyardError('aborted', 'the client went away'));
  });
  return controller.signal;
}

function chunk(id: string, created: number, model: string, delta: Record<string, unknown>, finish: string | null, extra = {}) {
  return {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    ...extra,
  };
}

/** Writes to one client, waiting for `drain`; resolves false once the client is gone or has been cut. */
function sink(raw: ServerResponse, limits: SseLimits, cut: (why: string) => void) {
  return async (text: string): Promise<boolean> => {
    if (raw.destroyed || raw.writableEnded) return false;
    const flushed = raw.write(text);
    if (raw.writableLength > limits.bufferBytes) {
      cut(`left more than ${limits.bufferBytes} bytes unread`);
      return false;
    }
    if (flushed) return true;
    const drained = await new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        raw.off('drain', onDrain);
        raw.off('close', onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(() => done(false), limits.stallMs);
      raw.on('drain', onDrain);
      raw.on('close', onClose);
    });
    if (!drained && !raw.destroyed) cut(`read nothing for ${limits.stallMs} ms`);
    return drained;
  };
}

/** Writes a runtime stream as OpenAI SSE. Nothing is sent until the first token, so early failures get a status. */
export async function writeSse(
  reply: FastifyReply,
  model: string,
  events: AsyncGenerator<ChatStreamEvent>,
  options: { includeUsage: boolean; headers?: Record<string, string>; metrics?: Metrics | undefined },
) {
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const startedAt = performance.now();
  const first = await events.next(); // throws before any byte is written: the error handler answers
  options.metrics?.observeFirstToken(model, (performance.now() - startedAt) / 1000);
  reply.hijack();
  const raw = reply.raw;
  const streams = streamsOf(reply.server.server);
  const abort = (err: SwitchyardError) => controllers.get(raw)?.abort(err);
  const cut = (why: string) => {
    abort(new SwitchyardError('aborted', `the client was cut: it ${why}`));
    raw.destroy();
  };
  const end = (err: SwitchyardError) => {
    if (!raw.destroyed && !raw.writableEnded) raw.end(`data: ${JSON.stringify(answerFor(err).body)}\n\n`);
    abort(err);
  };
  streams.open.add(end);
  const deployment = first.done ? '' : first.value.type === 'delta' ? first.value.deployment : (first.value.route.deployments[0] ?? '');
  raw.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...(deployment ? { 'x-switchyard-deployment': deployment } : {}),
    ...options.headers,
  });
  const write = sink(raw, streams.limits, cut);
  const send = (data: unknown) => write(`data: ${JSON.stringify(data)}\n\n`);
  try {
    if (!(await send(chunk(id, created, model, { role: 'assistant', content: '' }, null)))) return;
    for (let next = first; !next.done; next = await events.next()) {
      const event = next.value;
      if (event.type === 'delta') {
        const delta = event.toolCalls
          ? { ...(event.content === '' ? {} : { content: event.content }), tool_calls: event.toolCalls }
          : { content: event.content };
        if (!(await send(chunk(id, created, model, delta, null)))) return;
        continue;
      }
      if (!(await send(chunk(id, created, model, {}, event.finishReason, { switchyard: event.route })))) return;
      if (options.includeUsage && event.usage)
        await send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: event.usage });
      options.metrics?.observeRoute(model, event.route, 'ok', event.usage);
    }
    if (!raw.destroyed && !raw.writableEnded) raw.end('data: [DONE]\n\n');
  } catch (err) {
    // Headers are gone: the error travels as a final SSE event, which the openai SDK raises as an APIError.
    if (!raw.destroyed && !raw.writableEnded) raw.end(`data: ${JSON.stringify(answerFor(err).body)}\n\n`);
    options.metrics?.observeError(model, err);
  } finally {
    streams.open.delete(end);
    // A client cut or gone while the loop waited: stop the upstream stream now rather than at its next event.
    await events.return(undefined).catch(() => {});
  }
}
