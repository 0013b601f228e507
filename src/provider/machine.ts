// The health statechart of one provider deployment: healthy → degraded → recovering (coolingDown ⇄ probing),
// and disabled by an operator. Pure: opossum's verdicts, call outcomes and the time arrive as events; the
// circuit itself and the synthetic probe are provided by src/provider/actor.ts (over src/provider/deployment.ts).

import { type ActorRefFrom, assign, fromPromise, type SnapshotFrom, setup } from 'xstate';
import { backoffDelay } from './backoff.ts';
import { emptyMetrics, type ProviderMetrics, recordAbandoned, recordFailure, recordSuccess } from './metrics.ts';
import { type ProviderHealthInput, type ProviderHealthOptions, resolveProviderHealthOptions } from './options.ts';

/** Counts over the rolling window, as measured by the deployment's circuit breaker. */
export interface WindowStats {
  calls: number;
  failures: number;
  slowCalls: number;
}

/** What the machine needs to know of a failure: classified once, in src/upstream/classify.ts. */
export interface ProviderFault {
  code: string;
  retryable: boolean;
  message: string;
  retryAfterMs?: number | undefined;
}

// A call is one event, its outcome (call.*), sent when it settles: `at - latencyMs` is when it was admitted,
// and `probe` says whether it was one of the bounded probes of a recovering deployment. A probe also announces itself (probe.started) because it takes a probe slot.
export type ProviderEvent =
  | { type: 'probe.started'; at: number }
  | {
      type: 'call.succeeded';
      at: number;
      probe: boolean;
      latencyMs: number;
      ttftMs?: number | undefined;
      tokensIn?: number | undefined;
      tokensOut?: number | undefined;
      window: WindowStats;
    }
  | { type: 'call.failed'; at: number; probe: boolean; latencyMs: number; error: ProviderFault; window: WindowStats }
  | { type: 'call.abandoned'; at: number; probe: boolean; latencyMs: number }
  | { type: 'circuit.tripped'; at: number }
  | { type: 'operator.disable'; at: number }
  | { type: 'operator.enable'; at: number };

export interface ProviderInput {
  id: string;
  model?: string;
  health?: ProviderHealthInput;
  /** Seed of the jitter's PRNG; a fixed seed gives repeatable delays. */
  seed?: number;
}

export interface ProviderContext {
  id: string;
  model: string;
  options: ProviderHealthOptions;
  /** Cool-downs since the provider was last healthy (0 while serving). */
  attempt: number;
  backoffDelayMs: number | null;
  nextProbeAt: number | null;
  /** A Retry-After (ms) to honour as the floor of the next cool-down. */
  retryAfterFloorMs: number;
  rateLimitedUntil: number | null;
  /** How long the current `degraded` verdict lasts without a new unhealthy outcome. */
  degradedHoldMs: number;
  probesInFlight: number;
  rngState: number;
  lastError: { code: string; message: string; at: number } | null;
  metrics: ProviderMetrics;
}

type Ctx = { context: ProviderContext; event: ProviderEvent };

const windowUnhealthy = (o: ProviderHealthOptions, w: WindowStats) =>
  w.calls >= o.minVolume && (w.failures / w.calls >= o.degradedErrorRate || w.slowCalls / w.calls >= o.slowCallRate);

const faultOf = (event: ProviderEvent) => (event.type === 'call.failed' ? event.error : undefined);

export const providerMachine = setup({
  types: {
    context: {} as ProviderContext,
    events: {} as ProviderEvent,
    input: {} as ProviderInput,
  },
  actions: {
    // Provided by the actor layer, which owns the opossum breaker. Defaults do nothing.
    openCircuit: () => {},
    closeCircuit: () => {},
    resetWindow: () => {},
    takeProbeSlot: assign(({ context }: Ctx) => ({ probesInFlight: context.probesInFlight + 1 })),
    recordOutcome: assign(({ context, event }: Ctx) => {
      const probesInFlight = 'probe' in event && event.probe ? Math.max(0, context.probesInFlight - 1) : context.probesInFlight;
      if (event.type === 'call.succeeded') return { probesInFlight, metrics: recordSuccess(context.metrics, event) };
      if (event.type === 'call.abandoned') return { probesInFlight, metrics: recordAbandoned(context.metrics) };
      if (event.type !== 'call.failed') return {};
      const { error, at } = event;
      const rateLimited = error.code === 'provider_rate_limited';
      return {
        probesInFlight,
        metrics: recordFailure(context.metrics, error.code, error.retryable),
        lastError: { code: error.code, message: error.message, at },
        rateLimitedUntil: rateLimited ? at + (error.retryAfterMs ?? context.options.rateLimitHoldMs) : context.rateLimitedUntil,
      };
    }),
    rememberRetryAfter: assign(({ context, event }: Ctx) => ({
      retryAfterFloorMs: Math.max(context.retryAfterFloorMs, faultOf(event)?.retryAfterMs ?? 0),
    })),
    scheduleProbe: assign(({ context, event }: Ctx) => {
      const attempt = context.attempt + 1;
      const [delay, rngState] = backoffDelay(context.options.backoff, attempt, context.rngState, context.retryAfterFloorMs);
      const at = 'at' in event ? event.at : null;
      return { attempt, rngState, backoffDelayMs: delay, nextProbeAt: at === null ? null : at + delay, retryAfterFloorMs: 0 };
    }),
    holdDegraded: assign(({ context, event }: Ctx) => {
      const at = 'at' in event ? event.at : 0;
      const unhealthy = 'window' in event && windowUnhealthy(context.options, event.window);
      const rateHold = context.rateLimitedUntil === null ? 0 : context.rateLimitedUntil - at;
      return { degradedHoldMs: Math.max(unhealthy ? context.options.windowMs : 0, rateHold, 0) };
    }),
    startProbing: assign({ probesInFlight: 0, nextProbeAt: null }),
    resetBackoff: assign({ attempt: 0, backoffDelayMs: null, nextProbeAt: null, retryAfterFloorMs: 0 }),
  },
  actors: {
    // One synthetic request when no traffic arrives while probing; it reports as a probe call.
    healthProbe: fromPromise<void, { id: string }>(async () => {
      throw new Error('healthProbe is provided by the actor layer');
    }),
  },
  guards: {
    windowUnhealthy: ({ context, event }: Ctx) => 'window' in event && windowUnhealthy(context.options, event.window),
    rateLimited: ({ event }: Ctx) => faultOf(event)?.code === 'provider_rate_limited',
    rateLimitedWithRetryAfter: ({ event }: Ctx) => {
      const fault = faultOf(event);
      return fault?.code === 'provider_rate_limited' && (fault.retryAfterMs ?? 0) > 0;
    },
    recovered: ({ context, event }: Ctx) =>
      'window' in event &&
      !windowUnhealthy(context.options, event.window) &&
      (context.rateLimitedUntil === null || event.at >= context.rateLimitedUntil),
    retryableFailure: ({ event }: Ctx) => faultOf(event)?.retryable === true,
    // This failure completes a run of tripConsecutiveFailures retryable ones (429s have rules of their own).
    consecutiveFailures: ({ context, event }: Ctx) => {
      const fault = faultOf(event);
      const limit = context.options.tripConsecutiveFailures;
      return (
        limit > 0 && fault?.retryable === true && fault.code !== 'provider_rate_limited' && context.metrics.consecutiveFailures + 1 >= limit
      );
    },
    noProbeInFlight: ({ context }: Ctx) => context.probesInFlight === 0,
  },
  delays: {
    backoff: ({ context }: { context: ProviderContext }) => context.backoffDelayMs ?? 0,
    probeIdle: ({ context }: { context: ProviderContext }) => context.options.probeIdleMs,
    degradedHold: ({ context }: { context: ProviderContext }) => context.degradedHoldMs,
  },
}).createMachine({
  id: 'provider',
  context: ({ input }) => ({
    id: input.id,
    model: input.model ?? input.id,
    options: resolveProviderHealthOptions(input.health),
    attempt: 0,
    backoffDelayMs: null,
    nextProbeAt: null,
    retryAfterFloorMs: 0,
    rateLimitedUntil: null,
    degradedHoldMs: 0,
    probesInFlight: 0,
    rngState: input.seed ?? 0x5eed,
    lastError: null,
    metrics: emptyMetrics(),
  }),
  initial: 'healthy',
  // Outcomes of calls still in flight are recorded in every state; states below add their verdicts.
  on: {
    'probe.started': { actions: 'takeProbeSlot' },
    'call.succeeded': { actions: 'recordOutcome' },
    'call.failed': { actions: 'recordOutcome' },
    'call.abandoned': { actions: 'recordOutcome' },
    'operator.disable': { target: '.disabled' },
  },
  states: {
    healthy: {
      entry: 'closeCircuit',
      on: {
        'call.succeeded': [
          { guard: 'windowUnhealthy', target: 'degraded', actions: ['recordOutcome', 'holdDegraded'] },
          { actions: 'recordOutcome' },
        ],
        'call.failed': [
          { guard: 'rateLimitedWithRetryAfter', target: 'recovering', actions: ['recordOutcome', 'rememberRetryAfter'] },
          { guard: 'consecutiveFailures', target: 'recovering', actions: ['recordOutcome', 'rememberRetryAfter'] },
          { guard: 'rateLimited', target: 'degraded', actions: ['recordOutcome', 'holdDegraded'] },
          { guard: 'windowUnhealthy', target: 'degraded', actions: ['recordOutcome', 'holdDegraded'] },
          { actions: 'recordOutcome' },
        ],
        'circuit.tripped': 'recovering',
      },
    },
    degraded: {
      // Traffic prefers other deployments now, so the verdict must expire on its own: after one window
      // (or the 429 hold) without a new unhealthy outcome, the old failures have rotated out.
      after: { degradedHold: 'healthy' },
      on: {
        'call.succeeded': [
          { guard: 'recovered', target: 'healthy', actions: 'recordOutcome' },
          { guard: 'windowUnhealthy', target: 'degraded', reenter: true, actions: ['recordOutcome', 'holdDegraded'] },
          { actions: 'recordOutcome' },
        ],
        'call.failed': [
          { guard: 'rateLimitedWithRetryAfter', target: 'recovering', actions: ['recordOutcome', 'rememberRetryAfter'] },
          { guard: 'consecutiveFailures', target: 'recovering', actions: ['recordOutcome', 'rememberRetryAfter'] },
          { guard: 'rateLimited', target: 'degraded', reenter: true, actions: ['recordOutcome', 'holdDegraded'] },
          { guard: 'windowUnhealthy', target: 'degraded', reenter: true, actions: ['recordOutcome', 'holdDegraded'] },
          { actions: 'recordOutcome' },
        ],
        'circuit.tripped': 'recovering',
      },
    },
    recovering: {
      initial: 'coolingDown',
      states: {
        coolingDown: {
          entry: ['openCircuit', 'scheduleProbe'],
          after: { backoff: 'probing' },
        },
        probing: {
          entry: ['startProbing', 'closeCircuit'],
          initial: 'waiting',
          on: {
            'call.succeeded': {
              target: '#provider.healthy',
              actions: ['recordOutcome', 'resetBackoff', 'resetWindow'],
            },
            'call.failed': [
              { guard: 'retryableFailure', target: 'coolingDown', actions: ['recordOutcome', 'rememberRetryAfter'] },
              { actions: 'recordOutcome' },
            ],
            'circuit.tripped': 'coolingDown',
          },
          states: {
            waiting: {
              after: { probeIdle: { guard: 'noProbeInFlight', target: 'checking' } },
            },
            checking: {
              // The probe reports through call.* events like any probe request; the state above decides.
              // It returns here only when the answer settled nothing (a final error): wait and probe again.
              invoke: {
                src: 'healthProbe',
                input: ({ context }) => ({ id: context.id }),
                onDone: 'waiting',
                onError: 'waiting',
              },
            },
          },
        },
      },
    },
    disabled: {
      entry: ['openCircuit', 'resetBackoff'],
      on: {
        'operator.disable': {},
        'operator.enable': '#provider.recovering.probing',
      },
    },
  },
});

export type ProviderSnapshot = SnapshotFrom<typeof providerMachine>;
export type ProviderRef = ActorRefFrom<typeof providerMachine>;

/** The health state as one word: healthy, degraded, coolingDown, probing or disabled. */
export type ProviderHealth = 'healthy' | 'degraded' | 'coolingDown' | 'probing' | 'disabled';

export function healthOf(snapshot: ProviderSnapshot): ProviderHealth {
  // Read from the state value directly: this runs for every deployment on every request's ranking.
  const value: unknown = snapshot.value;
  if (value === 'healthy' || value === 'degraded' || value === 'disabled') return value;
  const recovering = typeof value === 'object' && value !== null ? (value as { recovering?: unknown }).recovering : undefined;
  if (recovering === 'coolingDown') return 'coolingDown';
  if (recovering !== undefined) return 'probing';
  return 'disabled';
}

/**
 * Whether the provider admits a call now, and as what: `normal` while serving, `probe` while probing with a
 * free probe slot (a synthetic probe in flight takes one), or null.
 */
export function admission(snapshot: ProviderSnapshot): 'normal' | 'probe' | null {
  const health = healthOf(snapshot);
  if (health === 'healthy' || health === 'degraded') return 'normal';
  if (health !== 'probing') return null;
  const { probesInFlight, options } = snapshot.context;
  return probesInFlight < options.probeCount ? 'probe' : null;
}
