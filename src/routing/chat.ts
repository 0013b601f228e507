// The call path: attempts on one deployment after another inside the request's deadline, with a hedge when
// the first answer is late. A final error returns at once; retryable ones move to the next deployment.

import type { ChatCompletion } from 'openai/resources/chat/completions';
import { asSwitchyard, SwitchyardError } from '../errors.ts';
import { race } from './race.ts';
import { type Attempt, type ChatCompletionRequest, type ChatResult, Request, type RequestDeps } from './request.ts';
import type { Route } from './router.ts';

interface Called {
  attempt: Attempt;
  route: Route;
  ready: Promise<ChatCompletion>;
  abort(): void;
}

/** A completion for `request.model` from the first deployment that can serve it. */
export async function chatWithFailover(deps: RequestDeps, request: ChatCompletionRequest, signal?: AbortSignal): Promise<ChatResult> {
  const req = new Request(deps, request, signal);
  const start = (route: Route, hedge: boolean): Called => {
    const attempt = req.begin(route, hedge);
    return { attempt, route, ready: attempt.complete(req.body), abort: () => attempt.abort() };
  };
  try {
    while (req.attemptsLeft) {
      const first = await req.pick();
      try {
        const { winner, value } = await race<ChatCompletion, Route, Called>({
          first,
          start,
          timers: deps.timers,
          hedgeAfterMs: req.hedgeDelay(first),
          nextHedge: req.nextHedge(),
          lost: (running, error) => running.attempt.report(error.code),
        });
        winner.attempt.report('ok');
        req.served.push(winner.route.deployment.id);
        return { completion: value, route: req.succeed() };
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
