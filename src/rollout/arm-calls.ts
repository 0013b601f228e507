// How one request is served by the arm a split gave it: sent to the arm's logical model through the supervisor
// (failover inside the arm as usual), its outcome counted for the arm, and, when the arm could not answer at
// all, handed to the split's fallback (a rollout's baseline for its canary), invisible to the client.

import { asSwitchyard, type ErrorCode, type RouteInfo, type SwitchyardError } from '../errors.ts';
import type {
  CallOptions,
  ChatCompletionRequest,
  ChatResult,
  ChatStreamEnd,
  ChatStreamEvent,
  EmbeddingsRequest,
  EmbeddingsResult,
} from '../routing/request.ts';
import type { Arm, Split } from './experiment.ts';
import type { Outcome } from './rollout.ts';
import { variantEmbeddingsRequest, variantRequest } from './variants.ts';

/** The supervisor as a split uses it. */
export interface SplitTarget {
  chat(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatResult>;
  stream(request: ChatCompletionRequest, options?: CallOptions): AsyncGenerator<ChatStreamEvent, ChatStreamEnd, undefined>;
  embeddings(request: EmbeddingsRequest, options?: CallOptions): Promise<EmbeddingsResult>;
}

// The first upstream failure a request met inside its arm; a hedge the winner made redundant is no failure.
const failedWith = (route: RouteInfo) => route.attempts.find((a) => a.outcome !== 'ok' && a.outcome !== 'aborted')?.outcome ?? null;

// An arm that could not answer at all (down, failing, refused by its deployments): the other arm may. A caller's
// abort, the deadline and what the request itself got wrong would fail on the baseline too.
const availabilityFailure = (code: ErrorCode, retryable: boolean) =>
  retryable || code === 'no_provider_available' || code === 'provider_auth' || code === 'upstream_response_too_large';

const labelled = (route: RouteInfo, model: string, arm: Arm): RouteInfo => ({ ...route, model, variant: arm.name });

export function createArmCalls(target: SplitTarget, now: () => number) {
  const failed = (arm: Arm, err: unknown, started: number): SwitchyardError => {
    const error = asSwitchyard(err);
    if (error.code !== 'aborted') arm.observe({ ok: false, code: error.code, latencyMs: now() - started });
    return error;
  };

  /** One answer (not streamed) from `arm`, else from the split's fallback when the arm could not answer. */
  async function answer<R extends { route: RouteInfo }>(
    split: Split,
    arm: Arm,
    model: string,
    call: (arm: Arm) => Promise<R>,
    usageOf: (result: R) => Extract<Outcome, { ok: true }>['usage'],
  ): Promise<R> {
    const started = now();
    try {
      const result = await call(arm);
      arm.observe({ ok: true, latencyMs: now() - started, ttftMs: null, usage: usageOf(result), failedWith: failedWith(result.route) });
      return { ...result, route: labelled(result.route, model, arm) };
    } catch (err) {
      const error = failed(arm, err, started);
      const other = split.fallback(arm);
      if (other && availabilityFailure(error.code, error.retryable)) return answer(split, other, model, call, usageOf);
      throw error.route ? error.withRoute(labelled(error.route, model, arm)) : error;
    }
  }

  async function* stream(
    split: Split,
    arm: Arm,
    request: ChatCompletionRequest,
    options: CallOptions,
  ): AsyncGenerator<ChatStreamEvent, ChatStreamEnd, undefined> {
    const started = now();
    let ttftMs: number | null = null;
    let end: ChatStreamEnd | undefined;
    const source = target.stream(variantRequest(request, arm.model, arm.params), { signal: options.signal, tenant: options.tenant });
    try {
      for (let next = await source.next(); ; next = await source.next()) {
        if (next.done) return end ?? next.value;
        const event = next.value;
        if (event.type === 'delta') {
          // The first event names the arm, so the server can say it in a header before the body.
          if (ttftMs === null) {
            ttftMs = now() - started;
            yield { ...event, variant: arm.name };
          } else yield event;
          continue;
        }
        end = { ...event, route: labelled(event.route, request.model, arm) };
        arm.observe({ ok: true, latencyMs: now() - started, ttftMs, usage: event.usage, failedWith: failedWith(event.route) });
        yield end;
      }
    } catch (err) {
      const error = failed(arm, err, started);
      const other = split.fallback(arm);
      // Before the first token nothing reached the client: the baseline can still answer the whole request.
      if (other && ttftMs === null && availabilityFailure(error.code, error.retryable))
        return yield* stream(split, other, request, options);
      throw error;
    } finally {
      if (!end) await source.return(undefined as never).catch(() => {});
    }
  }

  return {
    chat: (split: Split, arm: Arm, request: ChatCompletionRequest, options: CallOptions): Promise<ChatResult> =>
      answer(
        split,
        arm,
        request.model,
        (a) => target.chat(variantRequest(request, a.model, a.params), { signal: options.signal, tenant: options.tenant }),
        (r) => r.completion.usage ?? null,
      ),
    // No time to first token, tokens in only; a variant's chat parameters do not apply (variantEmbeddingsRequest).
    embeddings: (split: Split, arm: Arm, request: EmbeddingsRequest, options: CallOptions): Promise<EmbeddingsResult> =>
      answer(
        split,
        arm,
        request.model,
        (a) => target.embeddings(variantEmbeddingsRequest(request, a.model), { signal: options.signal, tenant: options.tenant }),
        (r) => (r.embeddings.usage ? { prompt_tokens: r.embeddings.usage.prompt_tokens, completion_tokens: 0 } : null),
      ),
    stream,
  };
}
