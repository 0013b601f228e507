// One attempt of a request on one deployment: its own abort controller (which the adapter's timers abort too),
// the deployment call, the budget settled with the real usage, and its outcome reported once to its request.

import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import type { AttemptRecord, ErrorCode } from '../errors.ts';
import type { AnswerStream, ChatRequest, EmbeddingRequest } from '../upstream/adapter.ts';
import type { Route } from './router.ts';

/** What an attempt needs of the request it belongs to (src/routing/request.ts). */
export interface AttemptOwner {
  readonly deps: { now(): number };
  settleBudget(deployment: string, usedTokens: number): void;
  record(attempt: Attempt, outcome: AttemptRecord['outcome']): void;
}

/**
 * Outcomes of an attempt that the upstream refused or never received: it used none of the tokens reserved for
 * it, so they are given back (settled with 0). A timeout, an abort or a broken answer may have used them.
 */
const unused: ReadonlySet<AttemptRecord['outcome']> = new Set<ErrorCode>([
  'provider_unavailable',
  'provider_rate_limited',
  'provider_circuit_open',
  'provider_bad_request',
  'provider_auth',
  'context_length_exceeded',
  'invalid_request',
]);

/** One attempt of a request on one deployment. */
export class Attempt {
  readonly route: Route;
  readonly hedge: boolean;
  /** Continues a stream that broke after delivering tokens. */
  readonly continuation: boolean;
  readonly startedAt: number;
  /** The attempt's own controller: the adapter's timers abort it too, so no second one is linked under it. */
  readonly #controller = new AbortController();
  readonly #request: AttemptOwner;
  #reported = false;
  /** The budget was settled (real usage known), or the answer began (the upstream used the tokens). */
  #spent = false;

  constructor(request: AttemptOwner, route: Route, hedge: boolean, continuation: boolean) {
    this.#request = request;
    this.route = route;
    this.hedge = hedge;
    this.continuation = continuation;
    this.startedAt = request.deps.now();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The deployment's completion; its real usage settles the budget reserved at begin. */
  async complete(body: ChatRequest): Promise<ChatCompletion> {
    const completion = await this.route.deployment.complete(body, { signal: this.#controller.signal, controller: this.#controller });
    this.settle(completion.usage);
    return completion;
  }

  /** The deployment's stream (settle the budget with its end's usage). */
  stream(body: ChatRequest): AnswerStream {
    return this.route.deployment.stream(body, { signal: this.#controller.signal, controller: this.#controller });
  }

  /** Embeddings from the deployment; their real usage settles the budget reserved at begin. */
  async embed(body: EmbeddingRequest): Promise<CreateEmbeddingResponse> {
    const answer = await this.route.deployment.embed(body, { signal: this.#controller.signal, controller: this.#controller });
    this.settle(answer.usage);
    return answer;
  }

  settle(usage: { total_tokens: number } | null | undefined) {
    this.#spent = true;
    if (usage) this.#request.settleBudget(this.route.deployment.id, usage.total_tokens);
  }

  /** The answer began to arrive (a stream's first token): whatever happens next, the upstream used tokens. */
  answering() {
    this.#spent = true;
  }

  abort(reason?: unknown) {
    this.#controller.abort(reason);
  }

  /** Reports the attempt's outcome to its request, once. (The deployment reports to its provider actor.) */
  report(outcome: AttemptRecord['outcome']) {
    if (this.#reported) return;
    this.#reported = true;
    // Failed before the upstream used the tokens reserved for it: they go back to the deployment's budget.
    if (!this.#spent && unused.has(outcome)) {
      this.#spent = true;
      this.#request.settleBudget(this.route.deployment.id, 0);
    }
    this.#request.record(this, outcome);
  }
}
