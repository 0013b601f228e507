// The stream path: a failure before the first token fails over invisibly (with hedging, the first stream to
// produce a token wins); after tokens reached the caller, a deployment able to continue picks up the answer
// and what its continuation repeats is removed. Tool-call deltas pass through as they come; a stream that
// breaks after part of a tool call reached the caller cannot be continued and ends as stream_interrupted.

import type { Continuation } from '../config.ts';
import { asSwitchyard, SwitchyardError } from '../errors.ts';
import type { AnswerStream, ChatRequest, StreamDelta, StreamEnd } from '../upstream/adapter.ts';
import { continuationRequest, RepeatRemover } from './continuation.ts';
import { race } from './race.ts';
import {
  type Attempt,
  type CallOptions,
  type ChatCompletionRequest,
  type ChatStreamDelta,
  type ChatStreamEnd,
  type ChatStreamEvent,
  chatRequest,
  type Request,
  type RequestDeps,
} from './request.ts';
import type { Route } from './router.ts';

interface Opened {
  attempt: Attempt;
  route: Route;
  answer: FirstTokenFirst;
  ready: Promise<void>;
  abort(): void;
}

/** Set only while the generator waits at the yield of a delta: then `poll` may go on where it stopped. */
interface Live {
  answer: FirstTokenFirst;
  shape(event: StreamDelta): ChatStreamDelta | undefined;
}

type Poll = () => ChatStreamDelta | undefined;
const polls = new WeakMap<object, Poll>();

/**
 * The `poll` of a routed stream (undefined for any other stream): it hands out the next delta when the winning
 * deployment's stream already has it at hand, without a promise, and undefined when `next` must be called. A
 * writer that polls walks every chunk of one upstream read synchronously.
 */
export const pollOf = (stream: object): Poll | undefined => polls.get(stream);

/** A streamed completion: deltas, then one `end` event with usage and the route taken (also its return value). */
export function streamWithFailover(
  deps: RequestDeps,
  request: ChatCompletionRequest,
  options?: CallOptions,
): AsyncGenerator<ChatStreamEvent, ChatStreamEnd, undefined> {
  const at: { live: Live | undefined } = { live: undefined };
  const stream = routed(deps, request, options, at);
  polls.set(stream, () => {
    const live = at.live;
    if (!live) return undefined;
    for (let next = live.answer.poll(); next; next = live.answer.poll()) {
      const shaped = live.shape(next);
      if (shaped) return shaped;
    }
    return undefined;
  });
  return stream;
}

async function* routed(
  deps: RequestDeps,
  request: ChatCompletionRequest,
  options: CallOptions | undefined,
  at: { live: Live | undefined },
): AsyncGenerator<ChatStreamEvent, ChatStreamEnd, undefined> {
  const req = chatRequest(deps, request, options);
  let delivered = '';
  let toolsDelivered = false;
  let current: Opened | undefined;
  const canContinue = (r: Route) => r.continuation !== 'none';
  const requestFor = (route: Route): ChatRequest =>
    delivered === '' ? req.body : continuationRequest(req.body, delivered, route.continuation as Exclude<Continuation, 'none'>);
  try {
    while (true) {
      const continuing = delivered !== '' || toolsDelivered;
      if (!req.attemptsLeft || toolsDelivered || (continuing && deps.routing.midStreamFailover === 'error'))
        throw interrupted(req, delivered, toolsDelivered);
      const filter = continuing ? canContinue : undefined;
      const first = await req.pick(filter).catch((err: unknown) => {
        throw continuing ? interrupted(req, delivered, false, err) : err;
      });
      const start = (route: Route, hedge: boolean): Opened => {
        const attempt = req.begin(route, hedge, continuing);
        const answer = firstTokenFirst(attempt.stream(requestFor(route)));
        const abort = () => {
          attempt.abort();
          void answer.close();
        };
        return { attempt, route, answer, ready: answer.ready, abort };
      };
      let winner: Opened;
      try {
        ({ winner } = await race({
          first,
          start,
          timers: deps.timers,
          hedgeAfterMs: continuing ? null : req.hedgeDelay(first),
          nextHedge: req.nextHedge(filter),
          lost: (running, error) => running.attempt.report(error.code),
        }));
      } catch (err) {
        const error = asSwitchyard(err);
        // A deployment that refuses a continuation request cannot continue: try another.
        if (!error.retryable && !continuing) throw error;
        req.lastError = error;
        continue;
      }
      current = winner;
      winner.attempt.answering();
      const remover = continuing && winner.route.continuation === 'instruct' ? new RepeatRemover(delivered) : null;
      const id = winner.route.deployment.id;
      req.served.push(id);
      if (continuing) req.continued = true;
      // What the client gets of one of the winner's deltas; undefined: nothing (see below).
      const shape = (event: StreamDelta): ChatStreamDelta | undefined => {
        const text = remover ? remover.push(event.content) : event.content;
        // A piece that passes unchanged keeps the upstream's chunk (logprobs and all); a changed one is rebuilt.
        const chunk = text === event.content ? event.chunk : undefined;
        const raw = chunk ? event.raw : undefined;
        const head = chunk ? event.head : undefined;
        if (event.toolCalls) {
          toolsDelivered = true;
          delivered += text;
          return { type: 'delta', content: text, toolCalls: event.toolCalls, deployment: id, chunk, raw, head };
        }
        // Empty chunks (the role chunk, the finish chunk, logprobs alone) pass on a first attempt; a
        // continuation's own opening and ending are not the client's: the server writes its own end.
        if (text === '' && continuing) return undefined;
        delivered += text;
        return { type: 'delta', content: text, deployment: id, chunk, raw, head };
      };
      const live: Live = { answer: winner.answer, shape };
      try {
        for (let next = await winner.answer.next(); ; next = await winner.answer.next()) {
          if (next.done) {
            const tail = remover?.end() ?? '';
            if (tail !== '') yield { type: 'delta', content: tail, deployment: id };
            winner.attempt.settle(next.value.usage);
            winner.attempt.report('ok');
            current = undefined;
            const end: ChatStreamEnd = {
              type: 'end',
              finishReason: next.value.finishReason,
              usage: next.value.usage,
              route: req.succeed(),
              chunk: next.value.chunk,
            };
            yield end;
            return end;
          }
          const shaped = shape(next.value);
          if (!shaped) continue;
          at.live = live;
          yield shaped;
          at.live = undefined;
        }
      } catch (err) {
        at.live = undefined;
        current = undefined;
        const error = asSwitchyard(err);
        winner.attempt.report(error.code);
        if (!error.retryable && delivered === '' && !toolsDelivered) throw error;
        req.lastError = error;
      }
    }
  } catch (err) {
    throw req.fail(err);
  } finally {
    at.live = undefined;
    // The caller stopped reading, or we failed: close the attempt still streaming.
    if (current) {
      current.abort();
      current.attempt.report('aborted');
    }
    req.dispose();
  }
}

/** The error that ends a stream which broke after delivering tokens and could not be continued. */
function interrupted(req: Request, delivered: string, toolsDelivered: boolean, cause?: unknown): SwitchyardError {
  if (delivered === '' && !toolsDelivered) return asSwitchyard(cause ?? req.lastError);
  const message = toolsDelivered
    ? 'the stream broke during a tool call, which cannot be continued elsewhere'
    : `the stream broke after ${delivered.length} characters and was not continued`;
  // Final for this request: what reached the caller cannot be taken back.
  return new SwitchyardError('stream_interrupted', message, { retryable: false, cause: cause ?? req.lastError });
}

interface FirstTokenFirst {
  next(): Promise<IteratorResult<StreamDelta, StreamEnd>>;
  /** The next delta at hand without a promise (see AnswerStream.poll). */
  poll(): StreamDelta | undefined;
  close(): Promise<void>;
  /** Resolves once the first token (or the end) has arrived; rejects when the stream failed before it. */
  ready: Promise<void>;
}

/** Wraps a deployment's stream so that `ready` waits for its first token; `next` then replays what came before. */
function firstTokenFirst(source: AnswerStream): FirstTokenFirst {
  const buffered: StreamDelta[] = [];
  let end: StreamEnd | undefined;
  const ready = (async () => {
    for (let next = await source.next(); ; next = await source.next()) {
      if (next.done) {
        end = next.value;
        return;
      }
      buffered.push(next.value);
      if (next.value.content !== '' || next.value.toolCalls) return;
    }
  })();
  ready.catch(() => {});
  return {
    ready,
    // Not an async function: past the first token it hands out the source's own promise, one hop less per chunk.
    next: () => {
      const delta = buffered.shift();
      if (delta) return Promise.resolve({ done: false, value: delta });
      if (end) return Promise.resolve({ done: true, value: end });
      return source.next();
    },
    poll: () => {
      if (buffered.length > 0) return buffered.shift();
      return end ? undefined : source.poll?.();
    },
    close: async () => {
      await source.return?.();
    },
  };
}
