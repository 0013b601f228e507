// The stream path: a failure before the first token fails over invisibly (with hedging, the first stream to
// produce a token wins); after tokens reached the caller, a deployment able to continue picks up the answer
// and what its continuation repeats is removed. Tool-call deltas pass through as they come; a stream that
// breaks after part of a tool call reached the caller cannot be continued and ends as stream_interrupted.

import type { Continuation } from '../config.ts';
import { SwitchyardError } from '../errors.ts';
import type { ChatRequest, StreamEvent } from '../upstream/adapter.ts';
import { continuationRequest, RepeatRemover } from './continuation.ts';
import { asSwitchyard, type Running, race } from './race.ts';
import type { ChatCompletionRequest, ChatStreamEvent, RequestKit, RequestState } from './request.ts';
import type { Route } from './router.ts';

/** A streamed completion: deltas, then one `end` event with usage and the route taken. */
export async function* streamWithFailover(
  kit: RequestKit,
  request: ChatCompletionRequest,
  signal?: AbortSignal,
): AsyncGenerator<ChatStreamEvent> {
  const { routing, now } = kit;
  const { state, body } = kit.open(request, signal);
  let delivered = '';
  let toolsDelivered = false;
  let current: { running: Running<AsyncIterator<StreamEvent>>; iterator: AsyncIterator<StreamEvent> } | undefined;
  const canContinue = (r: Route) => r.continuation !== 'none';
  const requestFor = (route: Route): ChatRequest =>
    delivered === '' ? body : continuationRequest(body, delivered, route.continuation as Exclude<Continuation, 'none'>);
  try {
    while (true) {
      const continuing = delivered !== '' || toolsDelivered;
      if (state.started >= routing.maxAttempts) throw interrupted(state, delivered, toolsDelivered);
      if (toolsDelivered || (continuing && routing.midStreamFailover === 'error')) throw interrupted(state, delivered, toolsDelivered);
      const first = await kit.pick(state, continuing ? canContinue : undefined).catch((err: unknown) => {
        throw continuing ? interrupted(state, delivered, false, err) : err;
      });
      const start = (route: Route, hedge: boolean): Running<AsyncIterator<StreamEvent>> => {
        const { controller, signal } = kit.begin(state, route);
        const iterator = firstTokenFirst(route.deployment.stream(requestFor(route), { signal }));
        return {
          route,
          hedge,
          startedAt: now(),
          ready: iterator.ready,
          abort: () => {
            controller.abort();
            void iterator.return?.(undefined).catch(() => {});
          },
        };
      };
      let winner: Running<AsyncIterator<StreamEvent>>;
      try {
        ({ winner } = await race({
          first,
          start,
          hedgeAfterMs: continuing ? null : kit.hedgeDelay(first),
          nextHedge: kit.nextHedge(state, continuing ? canContinue : undefined),
          lost: (running, error) => state.record(running, error.code, continuing),
        }));
      } catch (err) {
        const error = asSwitchyard(err);
        // A deployment that refuses a continuation request cannot continue: try another.
        if (!error.retryable && !continuing) throw error;
        state.lastError = error;
        continue;
      }
      const iterator = await winner.ready;
      current = { running: winner, iterator };
      const remover = continuing && winner.route.continuation === 'instruct' ? new RepeatRemover(delivered) : null;
      const id = winner.route.deployment.id;
      state.served.push(id);
      if (continuing) state.continued = true;
      try {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          const event = next.value;
          if (event.type === 'delta') {
            const text = remover ? remover.push(event.content) : event.content;
            if (event.toolCalls) {
              toolsDelivered = true;
              delivered += text;
              yield { type: 'delta', content: text, toolCalls: event.toolCalls, deployment: id };
            } else if (text !== '') {
              delivered += text;
              yield { type: 'delta', content: text, deployment: id };
            }
            continue;
          }
          const tail = remover?.end() ?? '';
          if (tail !== '') yield { type: 'delta', content: tail, deployment: id };
          state.record(winner, 'ok', continuing);
          kit.settleTokens(id, state.tokens, event.usage);
          current = undefined;
          await iterator.return?.(undefined);
          yield { type: 'end', finishReason: event.finishReason, usage: event.usage, route: kit.decide(state, 'ok') };
          return;
        }
        throw new SwitchyardError('stream_interrupted', `${id}: the stream ended without its end`, { retryable: true, status: 502 });
      } catch (err) {
        current = undefined;
        const error = asSwitchyard(err);
        state.record(winner, error.code, continuing);
        if (!error.retryable && delivered === '' && !toolsDelivered) throw error;
        state.lastError = error;
      }
    }
  } catch (err) {
    const failure = state.failure(err);
    kit.decide(state, failure.code);
    throw failure;
  } finally {
    // The caller stopped reading, or we failed: close the attempt still streaming.
    if (current) {
      current.running.abort();
      state.record(current.running, 'aborted', state.continued);
    }
    state.dispose();
  }
}

/** The error that ends a stream which broke after delivering tokens and could not be continued. */
function interrupted(state: RequestState, delivered: string, toolsDelivered: boolean, cause?: unknown): SwitchyardError {
  if (delivered === '' && !toolsDelivered) return asSwitchyard(cause ?? state.lastError);
  const last = cause ?? state.lastError;
  const message = toolsDelivered
    ? 'the stream broke during a tool call, which cannot be continued elsewhere'
    : `the stream broke after ${delivered.length} characters and was not continued`;
  return new SwitchyardError('stream_interrupted', message, { status: 502, cause: last });
}

type FirstTokenIterator = AsyncIterator<StreamEvent> & { ready: Promise<AsyncIterator<StreamEvent>> };

/**
 * Wraps a deployment's stream so that `ready` resolves once the first token (or the end) has arrived; the
 * iterator then replays what came before it. A failure before that rejects `ready`: nothing reached the caller.
 */
function firstTokenFirst(source: AsyncGenerator<StreamEvent, void, undefined>): FirstTokenIterator {
  const buffered: StreamEvent[] = [];
  const iterator: AsyncIterator<StreamEvent> = {
    next: async () => {
      const event = buffered.shift();
      if (event) return { done: false, value: event };
      const next = await source.next();
      return next.done ? { done: true, value: undefined } : next;
    },
    return: async () => {
      await source.return(undefined);
      return { done: true, value: undefined };
    },
  };
  const ready = (async () => {
    for (let next = await source.next(); !next.done; next = await source.next()) {
      buffered.push(next.value);
      if (next.value.type === 'end' || next.value.content !== '' || next.value.toolCalls) return iterator;
    }
    throw new SwitchyardError('stream_interrupted', 'the stream ended before its first token', { retryable: true, status: 502 });
  })();
  ready.catch(() => {});
  return Object.assign(iterator, { ready });
}
