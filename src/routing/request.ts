// A request and its attempts, composed the way cockatiel composes policies: the Request owns the deadline, the
// budget reservation (consume on begin, settle with the real usage), the tried set, the attempt records and the
// decision record; each Attempt owns its signal, its deployment call (where the deployment admits it) and
// its outcome report. The call path (chat.ts) and the stream path (stream.ts) drive them.

import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import type { RoutingConfig } from '../config.ts';
import { type AttemptRecord, asSwitchyard, type RouteInfo, SwitchyardError } from '../errors.ts';
import { latencyP95 } from '../provider/metrics.ts';
import type { Subject } from '../rollout/hash.ts';
import type { Timers } from '../timers.ts';
import type { ChatRequest, EmbeddingRequest, ToolCallDelta } from '../upstream/adapter.ts';
import { Attempt } from './attempt.ts';
import { type BudgetTicket, estimateInputTokens, estimateTokens, type RateLimiter } from './budgets.ts';
import type { DecisionLog } from './decisions.ts';
import type { Route, Router } from './router.ts';
import { type TenantBudgets, TenantCharge } from './tenants.ts';

export type { RouteInfo } from '../errors.ts';
export { Attempt } from './attempt.ts';

/** A chat request as clients send it: the logical model plus OpenAI's parameters. */
export type ChatCompletionRequest = ChatRequest & { model: string };

/** An embeddings request as clients send it: the logical model plus OpenAI's parameters. */
export type EmbeddingsRequest = EmbeddingRequest & { model: string };

export interface EmbeddingsResult {
  /** The upstream's answer as it sent it (its `model` is the upstream's name). */
  embeddings: CreateEmbeddingResponse;
  route: RouteInfo;
}

export interface ChatResult {
  completion: ChatCompletion;
  route: RouteInfo;
}

/**
 * A piece of a streamed answer. `chunk` is the upstream's own chunk when this piece passed unchanged: the server
 * writes it whole (logprobs, system_fingerprint, fields it does not know); a piece Switchyard changed (a
 * continuation's repeat removed) has none and is written as a new chunk.
 */
export type ChatStreamDelta = {
  type: 'delta';
  content: string;
  toolCalls?: ToolCallDelta[] | undefined;
  deployment: string;
  chunk?: ChatCompletionChunk | undefined;
  /** On the first delta of a split model's stream: the variant or rollout arm answering (src/rollout). */
  variant?: string | undefined;
  /** With `chunk`: its JSON text as the upstream sent it, which a writer may pass on instead of serializing `chunk`. */
  raw?: string | undefined;
  /** With `raw`: its head, as on the adapter's StreamDelta (src/upstream/answer-stream.ts). */
  head?: string | undefined;
};
/** The end of a stream; `chunk` is the upstream's usage chunk, when it sent one. */
export type ChatStreamEnd = {
  type: 'end';
  finishReason: string;
  usage: CompletionUsage | null;
  route: RouteInfo;
  chunk?: ChatCompletionChunk | undefined;
};
export type ChatStreamEvent = ChatStreamDelta | ChatStreamEnd;

/** What every request of a supervisor shares: built once, never per request. */
export interface RequestDeps {
  routing: RoutingConfig;
  router: Router;
  limiter: RateLimiter;
  now: () => number;
  /** Runs the deadline and the hedge delay. */
  timers: Timers;
  decisions: DecisionLog;
  /** Per-tenant budgets (`auth.tenants`); absent: no tenant is limited. */
  tenants?: TenantBudgets | undefined;
}

/** What a caller passes with a request: its abort signal, and the tenant its budget is charged to. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** The caller's tenant, charged to its own budget (auth.tenants). */
  tenant?: string | undefined;
  /** Who the request is, for the sticky arm of an experiment or rollout on its model (src/rollout). */
  subject?: Subject | undefined;
}

type Ending = { why: 'deadline' | 'caller'; reason: unknown };

/**
 * One request of any kind: `B` is its body as the deployments receive it (a chat request, an embeddings
 * request), `tokens` its estimate for the budgets. The call and stream paths build one with chatRequest().
 */
export class Request<B = ChatRequest> {
  readonly model: string;
  readonly body: B;
  /** Estimated tokens, reserved against rpm/tpm budgets by each attempt. */
  readonly tokens: number;
  readonly startedAt: number;
  readonly deadlineAt: number;
  readonly tried = new Set<string>();
  readonly attempts: AttemptRecord[] = [];
  readonly served: string[] = [];
  started = 0;
  continued = false;
  lastError: SwitchyardError | undefined;
  readonly deps: RequestDeps;
  readonly #caller: AbortSignal | undefined;
  readonly #live = new Set<Attempt>();
  readonly #timer: unknown;
  #ending: Ending | undefined;
  /** Budget tickets of a shared limiter, by deployment: taken at pick, settled by the attempt's real usage. */
  #tickets: Map<string, BudgetTicket> | undefined;
  /** The request's charge to its tenant's budget; only for a tenant that has one. */
  readonly #charge: TenantCharge | undefined;
  /** Made only when the router waits for a probe: the common path needs no request-level controller. */
  #wait: AbortController | undefined;
  #disposed = false;

  /** Checks the model (model_not_found) and starts the deadline. */
  constructor(deps: RequestDeps, model: string, body: B, tokens: number, { signal, tenant }: CallOptions = {}) {
    deps.router.routesOf(model);
    if (tenant !== undefined && deps.tenants?.limited(tenant)) this.#charge = new TenantCharge(deps.tenants, tenant, tokens);
    this.deps = deps;
    this.model = model;
    this.body = body;
    this.tokens = tokens;
    this.startedAt = deps.now();
    this.deadlineAt = this.startedAt + deps.routing.deadlineMs;
    this.#caller = signal;
    // An attempt the deadline cuts is a deployment that did not answer in time: a timeout against its health, not
    // a caller going away (a deadline below providers' timeoutMs must not hide a hung deployment).
    this.#timer = deps.timers.setTimeout(
      () =>
        this.#end(
          'deadline',
          new SwitchyardError('provider_timeout', `no answer before the request's ${deps.routing.deadlineMs} ms deadline ran out`),
        ),
      deps.routing.deadlineMs,
    );
    if (signal?.aborted) this.#end('caller', signal.reason);
    else signal?.addEventListener('abort', this.#onCallerAbort, { once: true });
  }

  readonly #onCallerAbort = () => this.#end('caller', this.#caller?.reason);

  /** Aborts every live attempt, and a wait for a probe, with the caller's reason (none for the deadline). */
  #end(why: Ending['why'], reason: unknown) {
    if (this.#ending) return;
    this.#ending = { why, reason };
    for (const attempt of this.#live) attempt.abort(reason);
    this.#wait?.abort(reason);
  }

  /** Aborted when the request ends (deadline or caller): what the router's wait for a probe listens to. */
  get signal(): AbortSignal {
    if (!this.#wait) {
      this.#wait = new AbortController();
      if (this.#ending) this.#wait.abort(this.#ending.reason);
    }
    return this.#wait.signal;
  }

  /** Whether another attempt may start: none once the deadline or the caller ended the request. */
  get attemptsLeft(): boolean {
    return this.#ending === undefined && this.started < this.deps.routing.maxAttempts;
  }

  /** The route for the next attempt (see Router.pick). */
  pick(filter?: (route: Route) => boolean): Promise<Route> {
    if (!this.#charge) return this.deps.router.pick(this, filter);
    // The tenant's budget first (once): refused, no deployment is tried and none is blamed.
    return this.#charge.admitted().then(() => this.deps.router.pick(this, filter));
  }

  /** Keeps a shared limiter's ticket for the picked deployment (called by the router). */
  reserved(ticket: BudgetTicket) {
    this.#tickets ??= new Map();
    this.#tickets.set(ticket.deployment, ticket);
  }

  /** Settles the budget taken for `deployment` with the real usage. */
  settleBudget(deployment: string, usedTokens: number) {
    this.#charge?.add(usedTokens - this.tokens);
    const ticket = this.#tickets?.get(deployment);
    if (ticket && this.deps.limiter.settle) this.deps.limiter.settle(ticket, usedTokens);
    else this.deps.limiter.adjust(deployment, usedTokens - this.tokens);
  }

  /** A source of hedge routes: not tried yet, while attempts are left. */
  nextHedge(filter?: (route: Route) => boolean): () => Promise<Route | null> {
    return async () => {
      if (!this.attemptsLeft) return null;
      const route = await this.pick(filter).catch(() => null);
      return route && !this.tried.has(route.deployment.id) ? route : null;
    };
  }

  hedgeDelay(route: Route): number | null {
    const after = this.deps.routing.hedgeAfterMs;
    return after === 'p95' ? latencyP95(route.deployment.actor.getSnapshot().context.metrics) : after;
  }

  /** The one place an attempt starts: counted, reserved against the deployment's budget, aborted with the request. */
  begin(route: Route, hedge: boolean, continuation = false): Attempt {
    // Once the deadline or the caller ended the request no attempt starts: none reaches a deployment to be
    // blamed for the time that had already run out (fail() then answers with why the request ended).
    if (this.#ending) throw new SwitchyardError('aborted', 'the request ended before this attempt could start');
    const id = route.deployment.id;
    this.started++;
    this.tried.add(id);
    // Taken already when a shared limiter gave a ticket at pick.
    if (!this.#tickets?.has(id)) this.deps.limiter.consume(id, this.tokens);
    this.#charge?.add(this.tokens);
    const attempt = new Attempt(this, route, hedge, continuation);
    this.#live.add(attempt);
    return attempt;
  }

  /** Records an attempt's outcome (called by Attempt.report). */
  record(attempt: Attempt, outcome: AttemptRecord['outcome']) {
    this.#live.delete(attempt);
    this.attempts.push({
      deployment: attempt.route.deployment.id,
      outcome,
      latencyMs: this.deps.now() - attempt.startedAt,
      ...(attempt.hedge ? { hedge: true } : {}),
      ...(attempt.continuation ? { continuation: true } : {}),
    });
  }

  info(): RouteInfo {
    return { model: this.model, deployments: [...this.served], attempts: [...this.attempts], continued: this.continued };
  }

  /** Records the success in the decision log; returns the route for the caller's result. */
  succeed(): RouteInfo {
    const route = this.info();
    this.deps.decisions.add({ at: this.deps.now(), model: this.model, outcome: 'ok', route });
    this.dispose();
    return route;
  }

  /**
   * The error the caller gets, recorded in the decision log: the deadline or the caller's abort when those
   * ended the request, else `err` itself, with the request's route and attempts.
   */
  fail(err: unknown): SwitchyardError {
    const ending = this.#ending;
    const error =
      ending?.why === 'deadline'
        ? new SwitchyardError('deadline_exceeded', `no answer within the ${this.deadlineAt - this.startedAt} ms deadline`, { cause: err })
        : ending?.why === 'caller'
          ? new SwitchyardError('aborted', 'the caller aborted the request', { cause: err })
          : asSwitchyard(err);
    const failure = error.withRoute(this.info());
    this.deps.decisions.add({ at: this.deps.now(), model: this.model, outcome: failure.code, route: failure.route ?? this.info() });
    return failure;
  }

  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#charge?.close();
    this.deps.timers.clearTimeout(this.#timer);
    this.#caller?.removeEventListener('abort', this.#onCallerAbort);
  }
}

/** A chat request (the call and stream paths): its tokens estimated from its messages and `max_tokens`. */
export function chatRequest(deps: RequestDeps, request: ChatCompletionRequest, options: CallOptions = {}): Request {
  const { model, ...body } = request;
  return new Request(deps, model, body, estimateTokens(body.messages, body.max_tokens), options);
}

/** An embeddings request: its tokens estimated from its input. */
export function embeddingsRequest(deps: RequestDeps, request: EmbeddingsRequest, options: CallOptions = {}): Request<EmbeddingRequest> {
  const { model, ...body } = request;
  return new Request(deps, model, body, estimateInputTokens(body.input), options);
}
