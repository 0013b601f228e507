// Writes a runtime stream to a client as OpenAI's SSE, within bounds: a write waits for `drain` when the socket's
// buffer is full, a client that leaves more than `bufferBytes` unread or does not read for `stallMs` is cut, and
// cutting it aborts the upstream call through the client-gone signal. The server's shutdown ends every open
// stream with an error event when its drain time runs out (endOpenStreams).

import { randomUUID } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { SwitchyardError } from '../errors.ts';
import { limitDefaults } from '../limits.ts';
import type { ChatStreamEvent } from '../routing/request.ts';
import { pollOf } from '../routing/stream.ts';
import { answerFor } from './errors.ts';
import type { Metrics } from './metrics.ts';
import { chunkText, createSink, type SinkLimits } from './sse-sink.ts';

export type SseLimits = SinkLimits;

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

/**
 * Writes a runtime stream as OpenAI SSE. Nothing is sent until the first token, so early failures get a status.
 * The upstream's chunks go out whole with the stream's id, created and the logical `model` set on them (one id
 * for the whole stream, also when another deployment continued it); only pieces Switchyard changed, and the
 * role chunk an upstream left out, are written as new chunks. The upstream's finish chunk is held back and sent
 * last with the route added (`switchyard`), so a stream has exactly one finish chunk.
 */
export async function writeSse(
  reply: FastifyReply,
  model: string,
  events: AsyncGenerator<ChatStreamEvent>,
  options: { includeUsage: boolean; headers?: Record<string, string>; metrics?: Metrics | undefined },
) {
  const startedAt = performance.now();
  const first = await events.next(); // throws before any byte is written: the error handler answers
  options.metrics?.observeFirstToken(model, (performance.now() - startedAt) / 1000);
  const opening = !first.done && first.value.type === 'delta' ? first.value.chunk : undefined;
  const id = opening?.id ?? `chatcmpl-${randomUUID()}`;
  const created = opening?.created ?? Math.floor(Date.now() / 1000);
  const { raw, streams, abort, cut } = takeOver(reply);
  const end = (err: SwitchyardError) => {
    sink.end(`data: ${JSON.stringify(answerFor(err).body)}\n\n`);
    abort(err);
  };
  const sink = createSink(raw, streams.limits, cut);
  streams.open.add(end);
  const deployment = first.done ? '' : first.value.type === 'delta' ? first.value.deployment : (first.value.route.deployments[0] ?? '');
  raw.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    // Close when the server is draining (drain.ts made this the last response on its connection).
    connection: raw.shouldKeepAlive ? 'keep-alive' : 'close',
    ...(deployment ? { 'x-switchyard-deployment': deployment } : {}),
    ...(!first.done && first.value.type === 'delta' && first.value.variant ? { 'x-switchyard-variant': first.value.variant } : {}),
    ...options.headers,
  });
  const send = (data: unknown) => sink.write(`data: ${JSON.stringify(data)}\n\n`);
  // The upstream's chunk as the client's: only the stream's identity and the logical model are set on it
  // (chunkText passes the upstream's own text when it can).
  const own = (upstream: ChatCompletionChunk) => ({ ...upstream, id, created, model });
  const clientText = chunkText(id, created, model);
  const sendOwn = (upstream: ChatCompletionChunk, text: string | undefined, head: string | undefined) =>
    sink.write(clientText(upstream, text, head));
  let held: ChatCompletionChunk | undefined;
  let heldRaw: string | undefined;
  let heldHead: string | undefined;
  try {
    if (!opening?.choices[0]?.delta?.role && !(await send(chunk(id, created, model, { role: 'assistant', content: '' }, null)))) return;
    // A routed stream hands out the deltas of one upstream read without a promise each (see pollOf).
    const poll = pollOf(events);
    // One result object for every polled delta: the loop reads its value before it polls again.
    let result: IteratorYieldResult<ChatStreamEvent> | undefined;
    const polled = (): IteratorResult<ChatStreamEvent> | undefined => {
      const delta = poll?.();
      if (!delta) return undefined;
      if (result) result.value = delta;
      else result = { done: false, value: delta };
      return result;
    };
    for (let next = first; !next.done; next = polled() ?? (await events.next())) {
      const event = next.value;
      if (event.type === 'delta') {
        // A finish chunk followed by more (its stream broke after it and was continued) was not the last one.
        // Not awaited when the sink took the text at once: one microtask less per chunk.
        const sent = held ? sendOwn(held, heldRaw, heldHead) : true;
        if (sent !== true && !(await sent)) return;
        held = undefined;
        if (event.chunk?.choices[0]?.finish_reason) {
          held = event.chunk;
          heldRaw = event.raw;
          heldHead = event.head;
          continue;
        }
        if (event.chunk) {
          const passed = sendOwn(event.chunk, event.raw, event.head);
          if (passed !== true && !(await passed)) return;
          continue;
        }
        const delta = event.toolCalls
          ? { ...(event.content === '' ? {} : { content: event.content }), tool_calls: event.toolCalls }
          : { content: event.content };
        if (!(await send(chunk(id, created, model, delta, null)))) return;
        continue;
      }
      const finish = held
        ? { ...own(held), switchyard: event.route }
        : chunk(id, created, model, {}, event.finishReason, { switchyard: event.route });
      held = undefined;
      if (!(await send(finish))) return;
      if (options.includeUsage && event.usage)
        await send(
          event.chunk ? own(event.chunk) : { id, object: 'chat.completion.chunk', created, model, choices: [], usage: event.usage },
        );
      options.metrics?.observeRoute(model, event.route, 'ok', event.usage);
    }
    sink.end('data: [DONE]\n\n');
  } catch (err) {
    // Headers are gone: the error travels as a final SSE event, which the openai SDK raises as an APIError.
    sink.end(`data: ${JSON.stringify(answerFor(err).body)}\n\n`);
    options.metrics?.observeError(model, err);
  } finally {
    streams.open.delete(end);
    // A client cut or gone while the loop waited: stop the upstream stream now rather than at its next event.
    await events.return(undefined).catch(() => {});
  }
}

/**
 * An event stream of another shape (the Responses API's named events, src/server/responses-sse.ts) under the
 * same bounds as writeSse: writes wait for `drain`, a client that does not read is cut (aborting the upstream
 * call), and the server's shutdown ends it with `lastWords(err)`. Call once the first event is in hand.
 */
export function openEventStream(reply: FastifyReply, headers: Record<string, string>, lastWords: (err: SwitchyardError) => string) {
  const { raw, streams, abort, cut } = takeOver(reply);
  const sink = createSink(raw, streams.limits, cut);
  // The last words go after whatever is still queued for the client, never ahead of it.
  const end = (err: SwitchyardError) => {
    sink.end(lastWords(err));
    abort(err);
  };
  streams.open.add(end);
  raw.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: raw.shouldKeepAlive ? 'keep-alive' : 'close',
    ...headers,
  });
  return {
    write: (text: string) => sink.write(text),
    /** Ends the stream with what is queued and then `text` (when the client is still there). */
    end: (text = '') => sink.end(text),
    /** Unregisters the stream from shutdown: call when done, whatever happened. */
    close: () => streams.open.delete(end),
  };
}

/**
 * Takes the response from fastify to write a stream by hand: its socket, the server's stream bounds, the abort of
 * the request's upstream call, and the cut of a client that does not read (aborting that call).
 */
function takeOver(reply: FastifyReply) {
  reply.hijack();
  const raw = reply.raw;
  const streams = streamsOf(reply.server.server);
  const abort = (err: SwitchyardError) => controllers.get(raw)?.abort(err);
  const cut = (why: string) => {
    abort(new SwitchyardError('aborted', `the client was cut: it ${why}`));
    raw.destroy();
  };
  return { raw, streams, abort, cut };
}
