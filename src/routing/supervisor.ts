// The supervisor at run time: the supervisor actor that spawns the provider actors, the deployments (fleet.ts)
// and the current config generation (generation.ts: routes, router, budgets), and it hands each request to the
// call path (chat.ts) or the stream path (stream.ts) with the generation's RequestDeps. apply() is how a config,
// the first one and every reload, takes effect.

import { type Actor, type ActorOptions, type AnyActorLogic, createActor, type InspectionEvent } from 'xstate';
import type { Cluster } from '../cluster/index.ts';
import type { SwitchyardConfig } from '../config.ts';
import { SwitchyardError } from '../errors.ts';
import { nowOf, providerLogic } from '../provider/actor.ts';
import { realTimers, type Timers } from '../timers.ts';
import type { OpenAIAdapter } from '../upstream/adapter.ts';
import type { RateLimiter } from './budgets.ts';
import { chatWithFailover, embedWithFailover } from './chat.ts';
import { DecisionLog } from './decisions.ts';
import { createFleet, type DeploymentPlan, deploymentSpecs, type Fleet } from './fleet.ts';
import { buildGeneration, type Generation, type GenerationShared } from './generation.ts';
import type { CallOptions, ChatCompletionRequest, EmbeddingsRequest } from './request.ts';
import { streamWithFailover } from './stream.ts';
import { providerSystemId, supervisorMachine } from './supervisor.machine.ts';
import { createLocalTenantBudgets } from './tenants.ts';

export type { Decision } from './decisions.ts';
export type { CallOptions, ChatCompletionRequest, ChatResult, ChatStreamEvent, EmbeddingsRequest, EmbeddingsResult } from './request.ts';

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

/** What applying a config did: the deployments by fate, and the version now live. */
export interface ApplyResult {
  version: number;
  deployments: DeploymentPlan;
}

/** Builds the supervisor and its provider actors from a resolved config, and starts them. */
export function createSupervisor(config: SwitchyardConfig, options: SupervisorOptions = {}) {
  const now = nowOf(options.clock);
  const sleep = options.sleep ?? realSleep;
  const timers: Timers = options.timers ?? options.clock ?? realTimers;
  const { cluster } = options;
  const tenantBudgets = config.auth.tenants;
  const localTenants = createLocalTenantBudgets(tenantBudgets, now);
  const tenants = cluster ? cluster.tenants(localTenants, (tenant) => tenantBudgets[tenant]) : localTenants;

  const fleet: Fleet = createFleet({
    now,
    adapters: options.adapters,
    clustered: cluster !== undefined,
    spawn: (deployments) => {
      actor.send({ type: 'providers.added', deployments });
      return (id) => actor.system.get(providerSystemId(id));
    },
    retire: (id) => actor.send({ type: 'provider.retired', provider: id }),
  });
  const logic = supervisorMachine.provide({ actors: { provider: providerLogic((id) => fleet.get(id), cluster?.hooks) } });
  const actor: Actor<typeof logic> = createActor(logic, {
    id: 'supervisor',
    input: { deployments: [] },
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  actor.start();

  // The one generation new requests read; replaced whole by apply(), never changed in place.
  let current: Generation | undefined;
  const generation = (): Generation => {
    if (!current) throw new Error('the supervisor has no config applied');
    return current;
  };
  // Limiters that outlive a generation read the current one's budgets and buckets.
  const spanning: RateLimiter = {
    hasBudget: (id, tokens) => generation().local.hasBudget(id, tokens),
    consume: (id, tokens) => generation().local.consume(id, tokens),
    adjust: (id, delta) => generation().local.adjust(id, delta),
  };
  const shared: GenerationShared = {
    now,
    random: options.random ?? Math.random,
    timers,
    decisions: new DecisionLog(),
    tenants,
    limiter: cluster ? cluster.limiter(options.limiter ?? spanning, (id) => generation().limits.get(id)) : options.limiter,
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
  };

  /**
   * Makes `next` (resolved and valid as a whole) the live config: the deployments by diff (src/routing/fleet.ts),
   * then one new generation swapped in by reference. The only place a config takes effect, at start and on every
   * reload: what else a config drives joins here.
   */
  function apply(next: SwitchyardConfig, version = (current?.version ?? -1) + 1): ApplyResult {
    const specs = deploymentSpecs(next);
    const plan = fleet.plan(specs);
    fleet.apply(specs, plan);
    current = buildGeneration(next, version, fleet, shared, current);
    // New deployments learn the trips their peers already hold.
    if (plan.added.length > 0 || version === 0) {
      cluster?.attach(
        (id) => fleet.get(id)?.actor,
        () => fleet.ids(),
      );
    }
    return { version, deployments: plan };
  }

  apply(config, 0);

  return {
    actor,
    /** Every deployment, draining ones included. */
    deployments: () => fleet.all(),
    models: () => [...generation().routes.keys()],
    routesOf: (model: string) => generation().deps.router.routesOf(model),
    decisions: () => shared.decisions.list(),
    timers,
    generation,
    apply,
    // `subject` is read only by a split model's arm assignment (src/rollout/splits.ts), never here.
    chat: (request: ChatCompletionRequest, callOptions: CallOptions = {}) => chatWithFailover(generation().deps, request, callOptions),
    stream: (request: ChatCompletionRequest, callOptions: CallOptions = {}) => streamWithFailover(generation().deps, request, callOptions),
    embeddings: (request: EmbeddingsRequest, callOptions: CallOptions = {}) => embedWithFailover(generation().deps, request, callOptions),
    disable: (id: string) => operator('operator.disable', id),
    enable: (id: string) => operator('operator.enable', id),
    stop: () => {
      actor.send({ type: 'supervisor.stop' });
      fleet.stop();
    },
  };

  function operator(type: 'operator.disable' | 'operator.enable', id: string) {
    if (!fleet.get(id)) {
      throw new SwitchyardError('provider_not_found', `no deployment "${id}" (known: ${fleet.ids().join(', ')})`);
    }
    actor.send({ type, provider: id, at: now() });
  }
}

export type Supervisor = ReturnType<typeof createSupervisor>;
