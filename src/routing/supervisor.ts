// The supervisor at run time: builds the deployments and the supervisor actor that spawns their provider
// actors, the router and budgets, and hands each request to the call path (chat.ts) or the stream path
// (stream.ts) with what they need (a RequestKit).

import { type Actor, type ActorOptions, type AnyActorLogic, createActor, type InspectionEvent } from 'xstate';
import type { SwitchyardConfig } from '../config.ts';
import { SwitchyardError } from '../errors.ts';
import { nowOf, providerLogic } from '../provider/actor.ts';
import { createDeployment, type Deployment } from '../provider/deployment.ts';
import { latencyP95 } from '../provider/metrics.ts';
import type { OpenAIAdapter } from '../upstream/adapter.ts';
import { linkedController } from '../upstream/signals.ts';
import { createLocalRateLimiter, estimateTokens, type RateLimiter } from './budgets.ts';
import { chatWithFailover } from './chat.ts';
import { type ChatCompletionRequest, type RequestKit, RequestState, type RouteInfo } from './request.ts';
import { createRouter, type Route } from './router.ts';
import { streamWithFailover } from './stream.ts';
import { providerSystemId, supervisorMachine } from './supervisor.machine.ts';

export type { ChatCompletionRequest, ChatResult, ChatStreamEvent } from './request.ts';

type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

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
    for (const [logical, { model: upstream }] of Object.entries(provider.models)) {
      const id = `${provider.id}/${upstream}`;
      let deployment = deployments.get(id);
      if (!deployment) {
        const spec = { id, baseURL: provider.baseURL, apiKey: provider.apiKey, model: upstream, timeoutMs: provider.timeoutMs };
        const rest = {
          streamIdleTimeoutMs: provider.streamIdleTimeoutMs,
          headers: provider.headers,
          health: provider.health,
          maxResponseBytes: provider.maxResponseBytes,
        };
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
    id: 'supervisor',
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

  // A ring: `next` is where the next decision goes, and the oldest one once the ring is full.
  const decisions: Decision[] = [];
  let next = 0;
  const kit: RequestKit = {
    routing,
    now,
    open: (request, signal) => {
      const { model, ...body } = request;
      router.routesOf(model);
      const tokens = estimateTokens(body.messages, body.max_tokens);
      return { state: new RequestState(model, { deadlineMs: routing.deadlineMs, tokens, now, signal }), body };
    },
    pick: (state, filter) =>
      router.pick({
        model: state.model,
        tried: state.tried,
        deadlineAt: state.deadlineAt,
        signal: state.signal,
        tokens: state.tokens,
        ...(filter ? { filter } : {}),
      }),
    nextHedge: (state, filter) => async () => {
      if (state.started >= routing.maxAttempts) return null;
      const route = await kit.pick(state, filter).catch(() => null);
      return route && !state.tried.has(route.deployment.id) ? route : null;
    },
    hedgeDelay: (route) =>
      routing.hedgeAfterMs === 'p95' ? latencyP95(route.deployment.actor.getSnapshot().context.metrics) : routing.hedgeAfterMs,
    begin: (state, route) => {
      const id = route.deployment.id;
      state.begin(id);
      limiter.consume(id, state.tokens);
      // Linked to the request's signal, which lives only as long as the request: nothing to release.
      const { controller, signal } = linkedController(state.signal);
      return { controller, signal };
    },
    settleTokens: (id, estimate, usage) => {
      if (usage) limiter.adjust(id, usage.total_tokens - estimate);
    },
    decide: (state, outcome) => {
      const route = state.info();
      decisions[next] = { at: now(), model: state.model, outcome, route };
      next = (next + 1) % decisionsKept;
      return route;
    },
  };

  return {
    actor,
    deployments: () => [...deployments.values()],
    models: () => [...routes.keys()],
    routesOf: (model: string) => router.routesOf(model),
    decisions: () => (decisions.length < decisionsKept ? [...decisions] : [...decisions.slice(next), ...decisions.slice(0, next)]),
    chat: (request: ChatCompletionRequest, callOptions: { signal?: AbortSignal } = {}) =>
      chatWithFailover(kit, request, callOptions.signal),
    stream: (request: ChatCompletionRequest, callOptions: { signal?: AbortSignal } = {}) =>
      streamWithFailover(kit, request, callOptions.signal),
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
