// The supervisor at run time: builds the deployments and the supervisor actor that spawns their provider
// actors, the router and budgets, and hands each request to the call path (chat.ts) or the stream path
// (stream.ts) with what every request shares (RequestDeps, built once).

import { type Actor, type ActorOptions, type AnyActorLogic, createActor, type InspectionEvent } from 'xstate';
import type { Cluster } from '../cluster/index.ts';
import type { SwitchyardConfig } from '../config.ts';
import { SwitchyardError } from '../errors.ts';
import { nowOf, providerLogic } from '../provider/actor.ts';
import { createDeployment, type Deployment } from '../provider/deployment.ts';
import { realTimers, type Timers } from '../timers.ts';
import type { OpenAIAdapter } from '../upstream/adapter.ts';
import { createLocalRateLimiter, type RateLimiter } from './budgets.ts';
import { chatWithFailover, embedWithFailover } from './chat.ts';
import { DecisionLog } from './decisions.ts';
import type { ChatCompletionRequest, EmbeddingsRequest, RequestDeps } from './request.ts';
import { createRouter, type Route } from './router.ts';
import { streamWithFailover } from './stream.ts';
import { providerSystemId, supervisorMachine } from './supervisor.machine.ts';

export type { Decision } from './decisions.ts';
export type { ChatCompletionRequest, ChatResult, ChatStreamEvent, EmbeddingsRequest, EmbeddingsResult } from './request.ts';

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
  /** Runs the request deadline, the hedge delay and conversation passivation: `clock`, else real timers. */
  timers?: Timers;
  /** Waits `ms` (real time by default); tests on a SimulatedClock advance the clock instead. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** This instance's cluster membership: shared health for the provider actors, shared budgets for the router. */
  cluster?: Cluster | undefined;
}

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
  const timers: Timers = options.timers ?? options.clock ?? realTimers;
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
          api: provider.api,
        };
        deployment = createDeployment({ ...spec, ...rest }, { now, adapter: options.adapters?.[id] });
        deployments.set(id, deployment);
      }
      const list = routes.get(logical) ?? [];
      list.push({ deployment, provider, priority: list.length, continuation: provider.continuation });
      routes.set(logical, list);
    }
  }
  const { cluster } = options;
  const limits = new Map([...routes.values()].flat().map((r) => [r.deployment.id, { rpm: r.provider.rpm, tpm: r.provider.tpm }]));
  const local = options.limiter ?? createLocalRateLimiter(Object.fromEntries(limits), now);
  const limiter = cluster ? cluster.limiter(local, (id) => limits.get(id)) : local;

  const logic = supervisorMachine.provide({ actors: { provider: providerLogic((id) => deployments.get(id), cluster?.hooks) } });
  const actor: Actor<typeof logic> = createActor(logic, {
    id: 'supervisor',
    input: {
      deployments: [...deployments.values()].map((d) => ({ id: d.id, input: cluster ? { ...d.input, clustered: true } : d.input })),
    },
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  // Attach each deployment to its spawned actor before anything can run on it.
  actor.start();
  for (const d of deployments.values()) d.attach(actor.system.get(providerSystemId(d.id)));
  cluster?.attach(
    (id) => deployments.get(id)?.actor,
    () => [...deployments.keys()],
  );

  const router = createRouter({
    routes,
    strategy: routing.strategy,
    maxWaitForRecoveryMs: routing.maxWaitForRecoveryMs,
    maxWaitingRequests: routing.maxWaitingRequests,
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

  const deps: RequestDeps = { routing, router, limiter, now, timers, decisions: new DecisionLog() };

  return {
    actor,
    deployments: () => [...deployments.values()],
    models: () => [...routes.keys()],
    routesOf: (model: string) => router.routesOf(model),
    decisions: () => deps.decisions.list(),
    timers,
    chat: (request: ChatCompletionRequest, callOptions: { signal?: AbortSignal } = {}) =>
      chatWithFailover(deps, request, callOptions.signal),
    stream: (request: ChatCompletionRequest, callOptions: { signal?: AbortSignal } = {}) =>
      streamWithFailover(deps, request, callOptions.signal),
    embeddings: (request: EmbeddingsRequest, callOptions: { signal?: AbortSignal } = {}) =>
      embedWithFailover(deps, request, callOptions.signal),
    disable: (id: string) => operator('operator.disable', id),
    enable: (id: string) => operator('operator.enable', id),
    stop: () => {
      actor.send({ type: 'supervisor.stop' });
      for (const d of deployments.values()) d.stop();
    },
  };

  function operator(type: 'operator.disable' | 'operator.enable', id: string) {
    if (!deployments.has(id)) {
      throw new SwitchyardError('provider_not_found', `no deployment "${id}" (known: ${[...deployments.keys()].join(', ')})`);
    }
    actor.send({ type, provider: id, at: now() });
  }
}

export type Supervisor = ReturnType<typeof createSupervisor>;
