// The supervisor at run time: the supervisor actor with its spawned provider actors, and the request path
// that picks a deployment per attempt, retries inside one deadline, hedges, and fails streams over.

import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import { type Actor, type ActorOptions, type AnyActorLogic, createActor, type InspectionEvent } from 'xstate';
import type { Continuation, SwitchyardConfig } from '../config.ts';
import { SwitchyardError } from '../errors.ts';
import { latencyP95 } from '../machines/provider-metrics.ts';
import { providerSystemId, supervisorMachine } from '../machines/supervisor.ts';
import { continuationRequest, RepeatRemover } from './continuation.ts';
import type { ChatRequest, OpenAIAdapter, StreamEvent } from './openai-adapter.ts';
import { createDeployment, type Deployment, nowOf, providerLogic } from './provider.ts';
import { asSwitchyard, type Running, race } from './race.ts';
import { createLocalRateLimiter, estimateTokens, type RateLimiter } from './rate-limit.ts';
import { RequestState, type RouteInfo } from './request.ts';
import { createRouter, type Route } from './router.ts';

type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

/** A chat request as clients send it: the logical model plus OpenAI's parameters. */
export type ChatCompletionRequest = ChatRequest & { model: string };

export interface ChatResult {
  completion: ChatCompletion;
  route: RouteInfo;
}

export type ChatStreamEvent =
  | { type: 'delta'; content: string; deployment: string }
  | { type: 'end'; finishReason: string; usage: CompletionUsage | null; route: RouteInfo };

export interface SupervisorOptions {
  inspect?: (event: InspectionEvent) => void;
  clock?: Clock;
  /** Random source of the weighted strategy. */
  random?: () => number;
  /** Replaces the rate limiter (a shared one, for several instances). */
  limiter?: RateLimiter;
  /** Replaces a deployment's OpenAI adapter, by deployment id (tests of the wiring). */
  adapters?: Record<string, OpenAIAdapter>;
  /** Waits `ms` (real time by default); tests on a SimulatedClock advance the clock instead. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface Decision {
  at: number;
  model: string;
  outcome: 'ok' | string;
  route: RouteInfo;
}

const decisionsKept = 256;

const realSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', abort, { once: true });
  });

/** Builds the supervisor and its provider actors from a resolved config, and starts them. */
export function createSupervisor(config: SwitchyardConfig, options: SupervisorOptions = {}) {
  const now = nowOf(options.clock);
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? realSleep;
  const { routing } = config;

  // One deployment per (provider, upstream model); a logical model lists its deployments in config order.
  const deployments = new Map<string, Deployment>();
  const routes = new Map<string, Route[]>();
  for (const provider of config.providers) {
    for (const [logical, upstream] of Object.entries(provider.models)) {
      const id = `${provider.id}/${upstream}`;
      let deployment = deployments.get(id);
      if (!deployment) {
        const spec = { id, baseURL: provider.baseURL, apiKey: provider.apiKey, model: upstream, timeoutMs: provider.timeoutMs };
        const rest = { streamIdleTimeoutMs: provider.streamIdleTimeoutMs, headers: provider.headers, health: provider.health };
        deployment = createDeployment({ ...spec, ...rest }, { now, adapter: options.adapters?.[id] });
        deployments.set(id, deployment);
      }
      const list = routes.get(logical) ?? [];
      list.push({ deployment, provider, priority: list.length, continuation: provider.continuation });
      routes.set(logical, list);
    }
  }
  const limiter =
    options.limiter ??
    createLocalRateLimiter(
      Object.fromEntries([...routes.values()].flat().map((r) => [r.deployment.id, { rpm: r.provider.rpm, tpm: r.provider.tpm }])),
      now,
    );

  const logic = supervisorMachine.provide({ actors: { provider: providerLogic((id) => deployments.get(id)) } });
  const actor: Actor<typeof logic> = createActor(logic, {
    input: { deployments: [...deployments.values()].map((d) => ({ id: d.id, input: d.input })) },
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  // Attach each deployment to its spawned actor before anything can run on it.
  actor.start();
  for (const d of deployments.values()) d.attach(actor.system.get(providerSystemId(d.id)));

  const router = createRouter({
    routes,
    strategy: routing.strategy,
    limiter,
    now,
    random,
    waitForChange: (watched, ms, signal) =>
      new Promise<void>((resolve, reject) => {
        const stop = new AbortController();
        const subs = watched.map((r) => r.deployment.actor.subscribe(() => done()));
        const done = () => {
          for (const s of subs) s.unsubscribe();
          stop.abort();
          resolve();
        };
        sleep(ms, AbortSignal.any([signal, stop.signal])).then(done, (err: unknown) => {
          for (const s of subs) s.unsubscribe();
          if (signal.aborted) reject(err);
        });
      }),
  });

  const decisions: Decision[] = [];
  const decide = (state: RequestState, outcome: string) => {
    if (decisions.length >= decisionsKept) decisions.shift();
    decisions.push({ at: now(), model: state.model, outcome, route: state.info() });
  };

  const hedgeDelay = (route: Route): number | null => {
    if (routing.hedgeAfterMs === 'p95') return latencyP95(route.deployment.actor.getSnapshot().context.metrics);
    return routing.hedgeAfterMs;
  };

  const pick = (state: RequestState, filter?: (r: Route) => boolean) =>
    router.pick({
      model: state.model,
      tried: state.tried,
      deadlineAt: state.deadlineAt,
      signal: state.signal,
      tokens: state.tokens,
      ...(filter ? { filter } : {}),
    });

  const nextHedge = (state: RequestState, filter?: (r: Route) => boolean) => async (): Promise<Route | null> => {
    if (state.started >= routing.maxAttempts) return null;
    const route = await pick(state, filter).catch(() => null);
    return route && !state.tried.has(route.deployment.id) ? route : null;
  };

  /** Starts one attempt: its own abort controller under the request's signal, counted against budgets. */
  function begin(state: RequestState, route: Route) {
    const id = route.deployment.id;
    state.begin(id);
    limiter.consume(id, state.tokens);
    const controller = new AbortController();
    return { controller, signal: AbortSignal.any([state.signal, controller.signal]) };
  }

  const settleTokens = (id: string, estimate: number, usage: CompletionUsage | null | undefined) => {
    if (usage) limiter.adjust(id, usage.total_tokens - estimate);
  };

  async function chat(request: ChatCompletionRequest, callOptions: { signal?: AbortSignal } = {}): Promise<ChatResult> {
    const { model, ...body } = request;
    router.routesOf(model);
    const state = new RequestState(model, {
      deadlineMs: routing.deadlineMs,
      tokens: estimateTokens(body.messages, body.max_tokens),
      now,
      signal: callOptions.signal,
    });
    const start = (route: Route, hedge: boolean): Running<ChatCompletion> => {
      const { controller, signal } = begin(state, route);
      const ready = route.deployment.complete(body, { signal }).then((completion) => {
        settleTokens(route.deployment.id, state.tokens, completion.usage);
        return completion;
      });
      return { route, hedge, startedAt: now(), ready, abort: () => controller.abort() };
    };
    try {
      while (state.started < routing.maxAttempts) {
        const first = await pick(state);
        try {
          const { winner, value } = await race({
            first,
            start,
            hedgeAfterMs: hedgeDelay(first),
            nextHedge: nextHedge(state),
            lost: (running, error) => state.record(running, error.code),
          });
          state.record(winner, 'ok');
          state.served.push(winner.route.deployment.id);
          decide(state, 'ok');
          return { completion: value, route: state.info() };
        } catch (err) {
          const error = asSwitchyard(err);
          if (!error.retryable) throw error;
          state.lastError = error;
        }
      }
      throw state.lastError ?? new SwitchyardError('no_provider_available', 'no attempt was made', { status: 503 });
    } catch (err) {
      const failure = state.failure(err);
      decide(state, failure.code);
      throw failure;
    } finally {
      state.dispose();
    }
  }

  async function* stream(request: ChatCompletionRequest, callOptions: { signal?: AbortSignal } = {}): AsyncGenerator<ChatStreamEvent> {
    const { model, ...body } = request;
    router.routesOf(model);
    const state = new RequestState(model, {
      deadlineMs: routing.deadlineMs,
      tokens: estimateTokens(body.messages, body.max_tokens),
      now,
      signal: callOptions.signal,
    });
    let delivered = '';
    let current: { running: Running<AsyncIterator<StreamEvent>>; iterator: AsyncIterator<StreamEvent> } | undefined;
    const canContinue = (r: Route) => r.continuation !== 'none';
    const requestFor = (route: Route): ChatRequest =>
      delivered === '' ? body : continuationRequest(body, delivered, route.continuation as Exclude<Continuation, 'none'>);
    try {
      while (true) {
        const continuing = delivered !== '';
        if (state.started >= routing.maxAttempts) throw interrupted(state, delivered);
        if (continuing && routing.midStreamFailover === 'error') throw interrupted(state, delivered);
        const first = await pick(state, continuing ? canContinue : undefined).catch((err: unknown) => {
          throw continuing ? interrupted(state, delivered, err) : err;
        });
        const start = (route: Route, hedge: boolean): Running<AsyncIterator<StreamEvent>> => {
          const { controller, signal } = begin(state, route);
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
            hedgeAfterMs: continuing ? null : hedgeDelay(first),
            nextHedge: nextHedge(state, continuing ? canContinue : undefined),
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
              if (text !== '') {
                delivered += text;
                yield { type: 'delta', content: text, deployment: id };
              }
              continue;
            }
            const tail = remover?.end() ?? '';
            if (tail !== '') yield { type: 'delta', content: tail, deployment: id };
            state.record(winner, 'ok', continuing);
            settleTokens(id, state.tokens, event.usage);
            current = undefined;
            await iterator.return?.(undefined);
            decide(state, 'ok');
            yield { type: 'end', finishReason: event.finishReason, usage: event.usage, route: state.info() };
            return;
          }
          throw new SwitchyardError('stream_interrupted', `${id}: the stream ended without its end`, { retryable: true, status: 502 });
        } catch (err) {
          current = undefined;
          const error = asSwitchyard(err);
          state.record(winner, error.code, continuing);
          if (!error.retryable && delivered === '') throw error;
          state.lastError = error;
        }
      }
    } catch (err) {
      const failure = state.failure(err);
      decide(state, failure.code);
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

  return {
    actor,
    deployments: () => [...deployments.values()],
    models: () => [...routes.keys()],
    routesOf: (model: string) => router.routesOf(model),
    decisions: () => [...decisions],
    chat,
    stream,
    disable: (id: string) => operator('operator.disable', id),
    enable: (id: string) => operator('operator.enable', id),
    stop: () => {
      actor.send({ type: 'supervisor.stop' });
      for (const d of deployments.values()) d.stop();
    },
  };

  function operator(type: 'operator.disable' | 'operator.enable', id: string) {
    if (!deployments.has(id)) {
      throw new SwitchyardError('provider_not_found', `no deployment "${id}" (known: ${[...deployments.keys()].join(', ')})`, {
        status: 404,
      });
    }
    actor.send({ type, provider: id, at: now() });
  }
}

export type Supervisor = ReturnType<typeof createSupervisor>;

/** The error that ends a stream which broke after delivering tokens and could not be continued. */
function interrupted(state: RequestState, delivered: string, cause?: unknown): SwitchyardError {
  if (delivered === '') return asSwitchyard(cause ?? state.lastError);
  const last = cause ?? state.lastError;
  return new SwitchyardError('stream_interrupted', `the stream broke after ${delivered.length} characters and was not continued`, {
    status: 502,
    cause: last,
  });
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
      if (next.value.type === 'end' || next.value.content !== '') return iterator;
    }
    throw new SwitchyardError('stream_interrupted', 'the stream ended before its first token', { retryable: true, status: 502 });
  })();
  ready.catch(() => {});
  return Object.assign(iterator, { ready });
}
