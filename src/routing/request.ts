// The bookkeeping of one request across its attempts: the deadline, the caller's signal, what was tried,
// the attempt records, and how the request's final error is reported.

import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { RoutingConfig } from '../config.ts';
import { type AttemptRecord, isSwitchyardError, SwitchyardError } from '../errors.ts';
import type { ChatRequest, ToolCallDelta } from '../upstream/adapter.ts';
import { type Linked, linkedController } from '../upstream/signals.ts';
import type { Running } from './race.ts';
import type { Route } from './router.ts';

/** A chat request as clients send it: the logical model plus OpenAI's parameters. */
export type ChatCompletionRequest = ChatRequest & { model: string };

export interface ChatResult {
  completion: ChatCompletion;
  route: RouteInfo;
}

export type ChatStreamEvent =
  | { type: 'delta'; content: string; toolCalls?: ToolCallDelta[] | undefined; deployment: string }
  | { type: 'end'; finishReason: string; usage: CompletionUsage | null; route: RouteInfo };

/** What the call and stream paths need from the supervisor, per request. */
export interface RequestKit {
  routing: RoutingConfig;
  now: () => number;
  /** Checks the model and starts the request's bookkeeping (deadline, budget estimate). */
  open(request: ChatCompletionRequest, signal: AbortSignal | undefined): { state: RequestState; body: ChatRequest };
  /** The route for the next attempt (see Router.pick). */
  pick(state: RequestState, filter?: (route: Route) => boolean): Promise<Route>;
  /** A source of hedge routes: not tried yet, while attempts are left. */
  nextHedge(state: RequestState, filter?: (route: Route) => boolean): () => Promise<Route | null>;
  hedgeDelay(route: Route): number | null;
  /** Starts one attempt: its own abort controller under the request's signal, counted against budgets. */
  begin(state: RequestState, route: Route): { controller: AbortController; signal: AbortSignal };
  /** Corrects the token budget once the real usage is known. */
  settleTokens(deployment: string, estimate: number, usage: CompletionUsage | null | undefined): void;
  /** Records the request's outcome in the decision ring; returns the route recorded, for the caller's result. */
  decide(state: RequestState, outcome: string): RouteInfo;
}

export interface RouteInfo {
  /** The logical model requested. */
  model: string;
  /** Deployments that delivered the answer, in order (more than one when a stream was continued). */
  deployments: string[];
  attempts: AttemptRecord[];
  /** A stream broke after delivering tokens and another deployment continued it. */
  continued: boolean;
}

export class RequestState {
  readonly model: string;
  readonly startedAt: number;
  readonly deadlineAt: number;
  readonly signal: AbortSignal;
  readonly tokens: number;
  readonly tried = new Set<string>();
  readonly attempts: AttemptRecord[] = [];
  readonly served: string[] = [];
  started = 0;
  continued = false;
  lastError: SwitchyardError | undefined;
  readonly #caller: AbortSignal | undefined;
  readonly #deadline: Linked;
  #deadlineHit = false;
  readonly #timer: NodeJS.Timeout;
  readonly #now: () => number;

  constructor(model: string, options: { deadlineMs: number; tokens: number; now: () => number; signal?: AbortSignal | undefined }) {
    this.model = model;
    this.#now = options.now;
    this.startedAt = options.now();
    this.deadlineAt = this.startedAt + options.deadlineMs;
    this.tokens = options.tokens;
    this.#caller = options.signal;
    this.#deadline = linkedController(options.signal);
    this.#timer = setTimeout(() => {
      this.#deadlineHit = true;
      this.#deadline.controller.abort();
    }, options.deadlineMs);
    this.signal = this.#deadline.signal;
  }

  /** Counts an attempt as started on `deployment`. */
  begin(deployment: string) {
    this.started++;
    this.tried.add(deployment);
  }

  record(running: Running<unknown>, outcome: AttemptRecord['outcome'], continuation = false) {
    this.attempts.push({
      deployment: running.route.deployment.id,
      outcome,
      latencyMs: this.#now() - running.startedAt,
      ...(running.hedge ? { hedge: true } : {}),
      ...(continuation ? { continuation: true } : {}),
    });
  }

  info(): RouteInfo {
    return { model: this.model, deployments: [...this.served], attempts: [...this.attempts], continued: this.continued };
  }

  /** The error the caller gets: the deadline or its own abort when those ended it, else `err`, with the attempts. */
  failure(err: unknown): SwitchyardError {
    const attempts = [...this.attempts];
    if (this.#deadlineHit && !this.#caller?.aborted) {
      return new SwitchyardError('deadline_exceeded', `no answer within the ${this.deadlineAt - this.startedAt} ms deadline`, {
        status: 504,
        attempts,
        cause: err,
      });
    }
    if (this.#caller?.aborted)
      return new SwitchyardError('aborted', 'the caller aborted the request', { status: 499, attempts, cause: err });
    const e = isSwitchyardError(err) ? err : new SwitchyardError('internal_error', String(err), { status: 500, cause: err });
    return new SwitchyardError(e.code, e.message, {
      ...(e.status === undefined ? {} : { status: e.status }),
      retryable: e.retryable,
      ...(e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs }),
      ...(e.provider === undefined ? {} : { provider: e.provider }),
      ...(e.param === undefined ? {} : { param: e.param }),
      attempts,
      cause: e.cause ?? e,
    });
  }

  dispose() {
    clearTimeout(this.#timer);
    this.#deadline.release();
  }
}
