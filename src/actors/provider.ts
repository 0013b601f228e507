// A provider deployment at run time: its health actor (src/machines/provider.ts), the opossum breaker that
// measures its calls, and the adapter that makes them. The machine is the one source of truth: it opens and
// closes the breaker from its entry actions, and opossum's trip decision reaches it as `circuit.tripped`.

import { EventEmitter } from 'node:events';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import CircuitBreaker from 'opossum';
import { type Actor, type ActorOptions, type AnyActorLogic, createActor, fromPromise, type InspectionEvent } from 'xstate';

type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import {
  admission,
  healthOf,
  type ProviderFault,
  type ProviderHealth,
  type ProviderSnapshot,
  providerMachine,
  type WindowStats,
} from '../machines/provider.ts';
import { latencyP95, type ProviderMetrics } from '../machines/provider-metrics.ts';
import { type ProviderHealthInput, resolveProviderHealthOptions } from '../machines/provider-options.ts';
import { type AttemptOptions, type ChatRequest, createOpenAIAdapter, type OpenAIAdapter, type StreamEvent } from './openai-adapter.ts';

export interface ProviderDeployment {
  /** Unique deployment id, e.g. `primary` or `primary/gpt-4o-mini`. */
  id: string;
  baseURL: string;
  apiKey?: string | undefined;
  /** Upstream model name. */
  model: string;
  timeoutMs?: number;
  streamIdleTimeoutMs?: number;
  headers?: Record<string, string> | undefined;
  health?: ProviderHealthInput;
  /** Seed of the backoff jitter's PRNG. */
  seed?: number;
}

export const deploymentDefaults = { timeoutMs: 30_000, streamIdleTimeoutMs: 30_000 } as const;

export interface ProviderRuntimeOptions {
  /** XState inspection observer, attached to the actor. */
  inspect?: (event: InspectionEvent) => void;
  /** Clock for the actor's delays (a SimulatedClock in tests). */
  clock?: Clock;
  /** Wall-clock source for event times; follows `clock` when that is a SimulatedClock. */
  now?: () => number;
  /** Replaces the OpenAI adapter (tests of the breaker wiring). */
  adapter?: OpenAIAdapter;
}

/** A serializable view of a provider: what the supervisor and the HTTP layer read. */
export interface ProviderView {
  id: string;
  model: string;
  health: ProviderHealth;
  attempt: number;
  nextProbeAt: number | null;
  lastError: { code: string; message: string; at: number } | null;
  metrics: Omit<ProviderMetrics, 'latencySamples'> & { latencyP95Ms: number | null };
}

export interface Provider {
  readonly id: string;
  readonly model: string;
  readonly actor: Actor<typeof providerMachine>;
  /** Whether a call would be admitted now (`probe`: as one of the bounded probes of a recovering deployment). */
  admission(): 'normal' | 'probe' | null;
  complete(request: ChatRequest, options?: AttemptOptions): Promise<ChatCompletion>;
  stream(request: ChatRequest, options?: AttemptOptions): AsyncGenerator<StreamEvent, void, undefined>;
  view(): ProviderView;
  /** The breaker's own state, for checking that it agrees with the machine. */
  breakerState(): 'closed' | 'open' | 'halfOpen';
  disable(): void;
  enable(): void;
  stop(): void;
}

// opossum's reset timer must never fire: the machine owns timing. setTimeout's largest delay.
const neverMs = 2_147_483_647;

/** Creates and starts a provider: actor, breaker and adapter. */
export function createProvider(deployment: ProviderDeployment, runtime: ProviderRuntimeOptions = {}): Provider {
  const clock = runtime.clock;
  const now =
    runtime.now ?? (clock && 'now' in clock && typeof clock.now === 'function' ? () => (clock as { now(): number }).now() : Date.now);
  const adapter =
    runtime.adapter ??
    createOpenAIAdapter({
      id: deployment.id,
      baseURL: deployment.baseURL,
      apiKey: deployment.apiKey,
      model: deployment.model,
      timeoutMs: deployment.timeoutMs ?? deploymentDefaults.timeoutMs,
      streamIdleTimeoutMs: deployment.streamIdleTimeoutMs ?? deploymentDefaults.streamIdleTimeoutMs,
      headers: deployment.headers,
    });

  const resolved = resolveProviderHealthOptions(deployment.health, `providers.${deployment.id}.health`);
  const bucketCount = resolved.windowBuckets;
  const rotator = new EventEmitter();
  const breaker = new CircuitBreaker((task: () => Promise<unknown>) => task(), {
    name: deployment.id,
    timeout: false,
    resetTimeout: neverMs,
    errorThresholdPercentage: resolved.openErrorRate * 100,
    volumeThreshold: resolved.minVolume,
    rollingCountTimeout: resolved.windowMs,
    rollingCountBuckets: bucketCount,
    rollingPercentilesEnabled: false,
    enableSnapshots: false,
    rotateBucketController: rotator,
    // Final errors (400, 401, …) and caller aborts say nothing about the deployment's health.
    errorFilter: (err: unknown) => !(isSwitchyardError(err) && err.retryable),
  });

  // Slow calls per bucket, rotated with opossum's buckets: the one count opossum does not keep.
  const slow: number[] = new Array<number>(bucketCount).fill(0);
  let syncing = false;
  const sync = (fn: () => void) => {
    syncing = true;
    try {
      fn();
    } finally {
      syncing = false;
    }
  };

  const machine = providerMachine.provide({
    actions: {
      openCircuit: () => sync(() => breaker.open()),
      closeCircuit: () => sync(() => breaker.close()),
      resetWindow: () => {
        for (let i = 0; i < bucketCount; i++) rotator.emit('rotate');
        slow.fill(0);
      },
    },
    actors: {
      healthProbe: fromPromise(async () => {
        const started = begin('probe');
        await measured(
          started,
          () => adapter.complete({ messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }),
          (c) => c.usage,
        ).catch(() => {});
      }),
    },
  });

  const actor = createActor(machine, {
    input: {
      id: deployment.id,
      model: deployment.model,
      health: resolved,
      ...(deployment.seed === undefined ? {} : { seed: deployment.seed }),
    },
    ...(runtime.inspect ? { inspect: runtime.inspect } : {}),
    ...(clock ? { clock } : {}),
  });
  const rotation = setInterval(() => {
    rotator.emit('rotate');
    slow.pop();
    slow.unshift(0);
  }, resolved.windowMs / bucketCount);
  rotation.unref();

  breaker.on('open', () => {
    if (!syncing) actor.send({ type: 'circuit.tripped', at: now() });
  });
  actor.start();

  function windowStats(): WindowStats {
    const s = breaker.stats;
    return { calls: s.successes + s.failures, failures: s.failures, slowCalls: slow.reduce((a, b) => a + b, 0) };
  }

  interface Started {
    probe: boolean;
    startedAt: number;
  }

  function begin(kind: 'normal' | 'probe'): Started {
    const at = now();
    actor.send({ type: 'call.started', at, probe: kind === 'probe' });
    return { probe: kind === 'probe', startedAt: at };
  }

  function admit(): Started {
    const kind = admission(actor.getSnapshot());
    if (kind === null) {
      const next = actor.getSnapshot().context.nextProbeAt;
      throw new SwitchyardError('provider_circuit_open', `${deployment.id}: not admitting calls (${healthOf(actor.getSnapshot())})`, {
        provider: deployment.id,
        retryable: true,
        status: 503,
        ...(next === null ? {} : { retryAfterMs: Math.max(0, next - now()) }),
      });
    }
    return begin(kind);
  }

  function report(
    started: Started,
    outcome:
      | { ok: true; ttftMs?: number | undefined; usage?: { prompt_tokens: number; completion_tokens: number } | null | undefined }
      | { ok: false; error: unknown },
  ) {
    const at = now();
    const latencyMs = at - started.startedAt;
    if (latencyMs >= resolved.slowCallMs) slow[0] = (slow[0] ?? 0) + 1;
    if (outcome.ok) {
      actor.send({
        type: 'call.succeeded',
        at,
        probe: started.probe,
        latencyMs,
        ttftMs: outcome.ttftMs ?? latencyMs,
        tokensIn: outcome.usage?.prompt_tokens,
        tokensOut: outcome.usage?.completion_tokens,
        window: windowStats(),
      });
      return;
    }
    const err = outcome.error;
    if (isSwitchyardError(err, 'aborted')) {
      actor.send({ type: 'call.abandoned', at, probe: started.probe });
      return;
    }
    const fault: ProviderFault = isSwitchyardError(err)
      ? { code: err.code, retryable: err.retryable, message: err.message, retryAfterMs: err.retryAfterMs }
      : { code: 'provider_unavailable', retryable: true, message: String(err) };
    actor.send({ type: 'call.failed', at, probe: started.probe, latencyMs, error: fault, window: windowStats() });
  }

  /** Runs `task` through the breaker and reports its outcome to the actor once opossum has counted it. */
  async function measured<T>(
    started: Started,
    task: () => Promise<T>,
    usageOf: (value: T) => { prompt_tokens: number; completion_tokens: number } | null | undefined,
  ): Promise<T> {
    let admitted = false;
    const fired = breaker.fire(() => {
      admitted = true;
      return task();
    }) as Promise<T>;
    if (!admitted) {
      fired.catch(() => {});
      actor.send({ type: 'call.abandoned', at: now(), probe: started.probe });
      throw new SwitchyardError('provider_circuit_open', `${deployment.id}: circuit open`, {
        provider: deployment.id,
        retryable: true,
        status: 503,
      });
    }
    try {
      const value = await fired;
      report(started, { ok: true, usage: usageOf(value) });
      return value;
    } catch (error) {
      report(started, { ok: false, error });
      throw error;
    }
  }

  async function* stream(request: ChatRequest, attempt: AttemptOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    const started = admit();
    let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined;
    const done = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    let admitted = false;
    const fired = breaker.fire(() => {
      admitted = true;
      return done;
    });
    fired.catch(() => {});
    if (!admitted) {
      actor.send({ type: 'call.abandoned', at: now(), probe: started.probe });
      throw new SwitchyardError('provider_circuit_open', `${deployment.id}: circuit open`, {
        provider: deployment.id,
        retryable: true,
        status: 503,
      });
    }
    let ttftMs: number | undefined;
    let usage: { prompt_tokens: number; completion_tokens: number } | null = null;
    let finished = false;
    try {
      for await (const event of adapter.stream(request, attempt)) {
        if (event.type === 'delta' && ttftMs === undefined && event.content !== '') ttftMs = now() - started.startedAt;
        if (event.type === 'end') usage = event.usage;
        yield event;
      }
      finished = true;
      settle?.resolve();
      await fired.catch(() => {});
      report(started, { ok: true, ttftMs, usage });
    } catch (error) {
      finished = true;
      settle?.reject(error);
      await fired.catch(() => {});
      report(started, { ok: false, error });
      throw error;
    } finally {
      if (!finished) {
        // The consumer stopped early: no verdict on the deployment.
        const aborted = new SwitchyardError('aborted', `${deployment.id}: stream abandoned by the caller`, { provider: deployment.id });
        settle?.reject(aborted);
        await fired.catch(() => {});
        report(started, { ok: false, error: aborted });
      }
    }
  }

  return {
    id: deployment.id,
    model: deployment.model,
    actor,
    admission: () => admission(actor.getSnapshot()),
    complete: async (request, attempt = {}) =>
      measured(
        admit(),
        () => adapter.complete(request, attempt),
        (c) => c.usage,
      ),
    stream,
    view: () => viewOf(actor.getSnapshot()),
    breakerState: () => (breaker.opened ? 'open' : breaker.halfOpen ? 'halfOpen' : 'closed'),
    disable: () => actor.send({ type: 'operator.disable', at: now() }),
    enable: () => actor.send({ type: 'operator.enable', at: now() }),
    stop: () => {
      clearInterval(rotation);
      actor.stop();
      breaker.shutdown();
    },
  };
}

/** The serializable view of a provider actor's snapshot. */
export function viewOf(snapshot: ProviderSnapshot): ProviderView {
  const c = snapshot.context;
  const { latencySamples: _samples, ...metrics } = c.metrics;
  return {
    id: c.id,
    model: c.model,
    health: healthOf(snapshot),
    attempt: c.attempt,
    nextProbeAt: c.nextProbeAt,
    lastError: c.lastError,
    metrics: { ...metrics, latencyP95Ms: latencyP95(c.metrics) },
  };
}
