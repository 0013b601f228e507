// A provider deployment at run time: the circuit that measures its calls (src/provider/circuit.ts), the adapter
// that makes them, and what it reports to its health actor (src/provider/machine.ts): one event per call, when
// the call settles. The machine is the one source of truth: it opens and closes the circuit from its entry
// actions, and opossum's trip decision reaches it as an event. The actor is attached afterwards, spawned by the
// supervisor or created alone by createProvider() (src/provider/actor.ts).

import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import type { AnswerStream, AttemptOptions, ChatRequest, EmbeddingRequest, OpenAIAdapter } from '../upstream/adapter.ts';
import { adapterFor } from '../upstream/responses-adapter.ts';
import { scrub } from '../upstream/scrub.ts';
import { type Circuit, createCircuit } from './circuit.ts';
import { admission, healthOf } from './health.ts';
import type { ProviderRef } from './machine.ts';
import { measuredStream, type Outcome, type Started, type Usage } from './measured-stream.ts';
import { type ProviderHealthInput, type ProviderHealthOptions, resolveProviderHealthOptions } from './options.ts';
import type { ProviderFault } from './types.ts';
import { type ProviderView, viewOf } from './view.ts';

export interface ProviderDeployment {
  /** Unique deployment id, e.g. `primary` or `primary/gpt-4o-mini`. */
  id: string;
  baseURL: string;
  apiKey?: string | undefined;
  /** Upstream model name. */
  model: string;
  timeoutMs?: number | undefined;
  streamIdleTimeoutMs?: number | undefined;
  headers?: Record<string, string> | undefined;
  health?: ProviderHealthInput | undefined;
  /** Largest non-streamed answer body and stream event read, in bytes (the adapter's default when absent). */
  maxResponseBytes?: number | undefined;
  /** Seed of the backoff jitter's PRNG. */
  seed?: number | undefined;
  /** What the upstream speaks: chat completions (default) or the Responses API. */
  api?: 'chat' | 'responses' | undefined;
}

export type { ProviderView } from './view.ts';

export const deploymentDefaults = { timeoutMs: 30_000, streamIdleTimeoutMs: 30_000 } as const;

export interface Provider {
  readonly id: string;
  readonly model: string;
  /** The deployment's health actor. */
  readonly actor: ProviderRef;
  /** Whether a call would be admitted now (`probe`: as one of the bounded probes of a recovering deployment). */
  admission(): 'normal' | 'probe' | null;
  /** Calls admitted and not settled yet (counted here: the machine hears of a call once, when it settles). */
  inFlight(): number;
  complete(request: ChatRequest, options?: AttemptOptions): Promise<ChatCompletion>;
  /** Deltas, and the end as the return value (see AnswerStream). */
  stream(request: ChatRequest, options?: AttemptOptions): AnswerStream;
  /** Embeddings from this deployment's `/embeddings`, measured and reported like a completion. */
  embed(request: EmbeddingRequest, options?: AttemptOptions): Promise<CreateEmbeddingResponse>;
  view(): ProviderView;
  /** The breaker's own state, for checking that it agrees with the machine. */
  breakerState(): 'closed' | 'open' | 'halfOpen';
  disable(): void;
  enable(): void;
  stop(): void;
}

/** A deployment whose actor is attached after creation (spawned by the supervisor, or by createProvider). */
export interface Deployment extends Provider {
  readonly circuit: Circuit;
  readonly health: ProviderHealthOptions;
  readonly input: { id: string; model: string; health: ProviderHealthOptions; seed?: number };
  attach(ref: ProviderRef): void;
  /** The synthetic health probe: one tiny call of the kind the deployment last served, reported as a probe call. */
  probe(): Promise<void>;
}

/** A failure of the request itself, before anything reached the upstream (see serialize in the adapter). */
const notSent = (err: unknown) => isSwitchyardError(err, 'invalid_request');

const circuitOpen = (id: string) => new SwitchyardError('provider_circuit_open', `${id}: circuit open`, { provider: id });

/** An embedding's usage as a call's: every token is input. */
const embeddingUsage = (e: CreateEmbeddingResponse): Usage => ({ prompt_tokens: e.usage?.prompt_tokens ?? 0, completion_tokens: 0 });

/** The adapter a deployment's settings describe: chat completions, or the Responses API (`api`). */
export function deploymentAdapter(s: ProviderDeployment): OpenAIAdapter {
  return adapterFor(s.api, {
    id: s.id,
    baseURL: s.baseURL,
    apiKey: s.apiKey,
    model: s.model,
    timeoutMs: s.timeoutMs ?? deploymentDefaults.timeoutMs,
    streamIdleTimeoutMs: s.streamIdleTimeoutMs ?? deploymentDefaults.streamIdleTimeoutMs,
    headers: s.headers,
    maxResponseBytes: s.maxResponseBytes,
  });
}

/** Creates a deployment's circuit and adapter; its actor is attached afterwards. */
export function createDeployment(
  deployment: ProviderDeployment,
  runtime: { now: () => number; adapter?: OpenAIAdapter | undefined },
): Deployment {
  const { now } = runtime;
  const id = deployment.id;
  const adapter = runtime.adapter ?? deploymentAdapter(deployment);
  const health = resolveProviderHealthOptions(deployment.health, `providers.${id}.health`);
  const circuit = createCircuit(id, health);
  let ref: ProviderRef | undefined;
  const actor = (): ProviderRef => {
    if (!ref) throw new Error(`deployment ${id} has no actor attached`);
    return ref;
  };
  circuit.onTrip(() => actor().send({ type: 'circuit.tripped', at: now() }));

  let inFlight = 0;
  // What the synthetic probe asks: an embedding model would refuse a chat completion, and no config says which
  // kind a model is, so the probe asks what the deployment was last used for.
  let serves: 'chat' | 'embeddings' = 'chat';

  function begin(kind: 'normal' | 'probe'): Started {
    const at = now();
    inFlight++;
    if (kind === 'probe') actor().send({ type: 'probe.started', at });
    return { probe: kind === 'probe', startedAt: at };
  }

  /** A call admitted but never run (the breaker refused it): it leaves flight without a verdict. */
  function refused(started: Started): never {
    inFlight--;
    actor().send({ type: 'call.abandoned', at: started.startedAt, probe: started.probe, latencyMs: 0 });
    throw circuitOpen(id);
  }

  function admit(): Started {
    const snapshot = actor().getSnapshot();
    const kind = admission(snapshot);
    if (kind === null) {
      const next = snapshot.context.nextProbeAt;
      throw new SwitchyardError('provider_circuit_open', `${id}: not admitting calls (${healthOf(snapshot)})`, {
        provider: id,
        ...(next === null ? {} : { retryAfterMs: Math.max(0, next - now()) }),
      });
    }
    return begin(kind);
  }

  function report(started: Started, outcome: Outcome) {
    const at = now();
    const latencyMs = at - started.startedAt;
    inFlight--;
    if (outcome.ok) {
      circuit.record(latencyMs, false);
      actor().send({
        type: 'call.succeeded',
        at,
        probe: started.probe,
        latencyMs,
        ttftMs: outcome.ttftMs ?? latencyMs,
        tokensIn: outcome.usage?.prompt_tokens,
        tokensOut: outcome.usage?.completion_tokens,
        window: circuit.windowStats(),
      });
      return;
    }
    const err = outcome.error;
    // Neither a caller that went away nor a request refused before a byte was sent says anything about the deployment.
    if (isSwitchyardError(err, 'aborted') || notSent(err)) {
      actor().send({ type: 'call.abandoned', at, probe: started.probe, latencyMs });
      return;
    }
    // The message becomes lastError, read by /v1/providers and the inspector: scrubbed whatever adapter raised it.
    const fault: ProviderFault = isSwitchyardError(err)
      ? { code: err.code, retryable: err.retryable, message: scrub(err.message), retryAfterMs: err.retryAfterMs }
      : { code: 'provider_unavailable', retryable: true, message: scrub(String(err)) };
    circuit.record(latencyMs, fault.retryable);
    actor().send({ type: 'call.failed', at, probe: started.probe, latencyMs, error: fault, window: circuit.windowStats() });
  }

  /** Runs `task` through the circuit and reports its outcome to the actor once opossum has counted it. */
  async function measured<T>(started: Started, task: () => Promise<T>, usageOf: (value: T) => Usage): Promise<T> {
    const { admitted, result } = circuit.fire(task);
    if (!admitted) refused(started);
    try {
      const value = await result;
      report(started, { ok: true, usage: usageOf(value) });
      return value;
    } catch (error) {
      report(started, { ok: false, error });
      throw error;
    }
  }

  function embed(request: EmbeddingRequest, attempt: AttemptOptions = {}): Promise<CreateEmbeddingResponse> {
    if (!adapter.embed) throw new SwitchyardError('provider_bad_request', `${id}: this adapter serves no embeddings`, { provider: id });
    return adapter.embed(request, attempt);
  }

  const stream = (request: ChatRequest, attempt: AttemptOptions = {}): AnswerStream =>
    measuredStream({ id, now, admit, fire: (task) => circuit.fire(task), refused, report }, () => adapter.stream(request, attempt));

  return {
    id,
    model: deployment.model,
    get actor() {
      return actor();
    },
    circuit,
    health,
    input: { id, model: deployment.model, health, ...(deployment.seed === undefined ? {} : { seed: deployment.seed }) },
    attach: (next) => {
      ref = next;
    },
    admission: () => admission(actor().getSnapshot()),
    inFlight: () => inFlight,
    complete: async (request, attempt = {}) => {
      serves = 'chat';
      return measured(
        admit(),
        () => adapter.complete(request, attempt),
        (c) => c.usage,
      );
    },
    stream: (request, attempt) => {
      serves = 'chat';
      return stream(request, attempt);
    },
    embed: async (request, attempt = {}) => {
      serves = 'embeddings';
      return measured(admit(), () => embed(request, attempt), embeddingUsage);
    },
    probe: async () => {
      if (serves === 'embeddings') {
        await measured(begin('probe'), () => embed({ input: 'ping' }), embeddingUsage).catch(() => {});
        return;
      }
      const ping: ChatRequest = { messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 };
      await measured(
        begin('probe'),
        () => adapter.complete(ping),
        (c) => c.usage,
      ).catch(() => {});
    },
    view: () => viewOf(actor().getSnapshot(), inFlight),
    breakerState: () => circuit.state(),
    disable: () => actor().send({ type: 'operator.disable', at: now() }),
    enable: () => actor().send({ type: 'operator.enable', at: now() }),
    stop: () => {
      circuit.shutdown();
      void adapter.close?.();
    },
  };
}
