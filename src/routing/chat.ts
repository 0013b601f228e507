// The call path: attempts on one deployment after another inside the request's deadline, with a hedge when
// the first answer is late. A final error returns at once; retryable ones move to the next deployment.

import type { ChatCompletion } from 'openai/resources/chat/completions';
import { SwitchyardError } from '../errors.ts';
import { asSwitchyard, type Running, race } from './race.ts';
import type { ChatCompletionRequest, ChatResult, RequestKit } from './request.ts';
import type { Route } from './router.ts';

/** A completion for `request.model` from the first deployment that can serve it. */
export async function chatWithFailover(kit: RequestKit, request: ChatCompletionRequest, signal?: AbortSignal): Promise<ChatResult> {
  const { routing, now } = kit;
  const { state, body } = kit.open(request, signal);
  const start = (route: Route, hedge: boolean): Running<ChatCompletion> => {
    const { controller, signal } = kit.begin(state, route);
    const ready = route.deployment.complete(body, { signal }).then((completion) => {
      kit.settleTokens(route.deployment.id, state.tokens, completion.usage);
      return completion;
    });
    return { route, hedge, startedAt: now(), ready, abort: () => controller.abort() };
  };
  try {
    while (state.started < routing.maxAttempts) {
      const first = await kit.pick(state);
      try {
        const { winner, value } = await race({
          first,
          start,
          hedgeAfterMs: kit.hedgeDelay(first),
          nextHedge: kit.nextHedge(state),
          lost: (running, error) => state.record(running, error.code),
        });
        state.record(winner, 'ok');
        state.served.push(winner.route.deployment.id);
        return { completion: value, route: kit.decide(state, 'ok') };
      } catch (err) {
        const error = asSwitchyard(err);
        if (!error.retryable) throw error;
        state.lastError = error;
      }
    }
    throw state.lastError ?? new SwitchyardError('no_provider_available', 'no attempt was made', { status: 503 });
  } catch (err) {
    const failure = state.failure(err);
    kit.decide(state, failure.code);
    throw failure;
  } finally {
    state.dispose();
  }
}
