// The call path: attempts on one deployment after another inside the request's deadline, with a hedge when
// the first answer is late. A final error returns at once; retryable ones move to the next deployment. Chat
// completions and embeddings take the same path: only the call an attempt makes differs.

import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import { asSwitchyard, type RouteInfo, SwitchyardError } from '../errors.ts';
import { race } from './race.ts';
import {
  type Attempt,
  type CallOptions,
  type ChatCompletionRequest,
  type ChatResult,
  chatRequest,
  type EmbeddingsRequest,
  type EmbeddingsResult,
  embeddingsRequest,
  type Request,
  type RequestDeps,
} from './request.ts';
import type { Route } from './router.ts';

interface Called<T> {
  attempt: Attempt;
  route: Route;
  ready: Promise<T>;
  abort(): void;
}

/** A completion for `request.model` from the first deployment that can serve it. */
export async function chatWithFailover(deps: RequestDeps, request: ChatCompletionRequest, options?: CallOptions): Promise<ChatResult> {
  const req = chatRequest(deps, request, options);
  const { value, route } = await callWithFailover(req, (attempt) => attempt.complete(req.body));
  return { completion: value, route };
}

/** Embeddings for `request.model` from the first deployment that can serve them. */
export async function embedWithFailover(deps: RequestDeps, request: EmbeddingsRequest, options?: CallOptions): Promise<EmbeddingsResult> {
  const req = embeddingsRequest(deps, request, options);
  const { value, route } = await callWithFailover<CreateEmbeddingResponse, typeof req.body>(req, (attempt) => attempt.embed(req.body));
  return { embeddings: value, route };
}

/** Runs `call` on one attempt after another (and a hedge) until one answers, a final error, or the end. */
async function callWithFailover<T, B>(req: Request<B>, call: (attempt: Attempt) => Promise<T>): Promise<{ value: T; route: RouteInfo }> {
  const start = (route: Route, hedge: boolean): Called<T> => {
    const attempt = req.begin(route, hedge);
    return { attempt, route, ready: call(attempt), abort: () => attempt.abort() };
  };
  try {
    while (req.attemptsLeft) {
      const first = await req.pick();
      try {
        const { winner, value } = await race<T, Route, Called<T>>({
          first,
          start,
          timers: req.deps.timers,
          hedgeAfterMs: req.hedgeDelay(first),
          nextHedge: req.nextHedge(),
          lost: (running, error) => running.attempt.report(error.code),
        });
        winner.attempt.report('ok');
        req.served.push(winner.route.deployment.id);
        return { value, route: req.succeed() };
      } catch (err) {
        const error = asSwitchyard(err);
        if (!error.retryable) throw error;
        req.lastError = error;
      }
    }
    throw req.lastError ?? new SwitchyardError('no_provider_available', 'no attempt was made');
  } catch (err) {
    throw req.fail(err);
  } finally {
    req.dispose();
  }
}
