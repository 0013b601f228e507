// The health statechart of one provider deployment: healthy → degraded → recovering (coolingDown ⇄ probing),
// and disabled by an operator. Pure: opossum's verdicts, call outcomes and the time arrive as events; the
// circuit itself and the synthetic probe are provided by src/provider/actor.ts (over src/provider/deployment.ts).
// In a cluster, other instances' verdicts arrive as events too (cluster.tripped, cluster.recovered), one
// instance at a time probes under a lease (probe.lease*), and this instance's own verdicts leave through the
// provided announceTrip / announceRecovery actions (src/cluster/health.ts). A config reload changes its options
// in place (config.changed) or retires it (config.removed → draining) without touching the rest of its state.

import { type ActorRefFrom, assign, fromPromise, type SnapshotFrom, setup } from 'xstate';
import { backoffDelay } from './backoff.ts';
import { emptyMetrics, recordAbandoned, recordFailure, recordSuccess } from './metrics.ts';
import { type ProviderHealthOptions, resolveProviderHealthOptions } from './options.ts';
import type { ProviderContext, ProviderEvent, ProviderInput, WindowStats } from './types.ts';

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
    // The next probe: the backoff, a Retry-After and a peer's deadline, whichever ends last.
    scheduleProbe: assign(({ context, event }: Ctx) => {
      const attempt = context.attempt + 1;
      const [backoff, rngState] = backoffDelay(context.options.backoff, attempt, context.rngState, context.retryAfterFloorMs);
      const at = 'at' in event ? event.at : null;
      const delay = at === null ? backoff : Math.max(backoff, context.remoteUntil - at);
      const trippedBy = event.type === 'cluster.tripped' ? event.instance : 'local';
      return {
        attempt,
        rngState,
        backoffDelayMs: delay,
        nextProbeAt: at === null ? null : at + delay,
        retryAfterFloorMs: 0,
        remoteUntil: 0,
        trippedBy,
      };
    }),
    adoptPeerDeadline: assign(({ event }: Ctx) => ({ remoteUntil: event.type === 'cluster.tripped' ? event.until : 0 })),
    // A peer's later deadline lengthens the cool-down in progress; an earlier one never shortens it.
    extendCooldown: assign(({ event }: Ctx) => {
      if (event.type !== 'cluster.tripped') return {};
      return { nextProbeAt: event.until, backoffDelayMs: Math.max(0, event.until - event.at), trippedBy: event.instance, peerProbe: null };
    }),
    // Until the peer's lease runs out this instance will not probe: that is its next probe, for the router too.
    awaitPeerProbe: assign(({ event }: Ctx) =>
      event.type === 'probe.leaseDenied'
        ? { peerProbe: { holder: event.holder, until: event.until, waitMs: Math.max(0, event.until - event.at) }, nextProbeAt: event.until }
        : {},
    ),
    // Provided in a cluster: claim the probe lease, and tell the peers of this instance's own verdicts.
    claimProbe: () => {},
    announceTrip: () => {},
    announceRecovery: () => {},
    holdDegraded: assign(({ context, event }: Ctx) => {
      const at = 'at' in event ? event.at : 0;
      const unhealthy = 'window' in event && windowUnhealthy(context.options, event.window);
      const rateHold = context.rateLimitedUntil === null ? 0 : context.rateLimitedUntil - at;
      return { degradedHoldMs: Math.max(unhealthy ? context.options.windowMs : 0, rateHold, 0) };
    }),
    startProbing: assign({ probesInFlight: 0, nextProbeAt: null }),
    adoptOptions: assign(({ context, event }: Ctx) => ({ options: event.type === 'config.changed' ? event.health : context.options })),
    resetBackoff: assign({ attempt: 0, backoffDelayMs: null, nextProbeAt: null, retryAfterFloorMs: 0, trippedBy: null, peerProbe: null }),
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
    standalone: ({ context }: Ctx) => !context.clustered,
    peerDeadlineAhead: ({ event }: Ctx) => event.type === 'cluster.tripped' && event.until > event.at,
    peerDeadlineLater: ({ context, event }: Ctx) => event.type === 'cluster.tripped' && event.until > (context.nextProbeAt ?? 0),
  },
  delays: {
    backoff: ({ context }: { context: ProviderContext }) => context.backoffDelayMs ?? 0,
    probeIdle: ({ context }: { context: ProviderContext }) => context.options.probeIdleMs,
    degradedHold: ({ context }: { context: ProviderContext }) => context.degradedHoldMs,
    peerProbeLease: ({ context }: { context: ProviderContext }) => context.peerProbe?.waitMs ?? 0,
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
    clustered: input.clustered ?? false,
    remoteUntil: 0,
    trippedBy: null,
    peerProbe: null,
  }),
  initial: 'healthy',
  // Outcomes of calls still in flight are recorded in every state; states below add their verdicts.
  on: {
    'probe.started': { actions: 'takeProbeSlot' },
    'call.succeeded': { actions: 'recordOutcome' },
    'call.failed': { actions: 'recordOutcome' },
    'call.abandoned': { actions: 'recordOutcome' },
    'operator.disable': { target: '.disabled' },
    'config.changed': { actions: 'adoptOptions' },
    'config.removed': { target: '.draining' },
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
          {
            guard: 'rateLimitedWithRetryAfter',
            target: 'recovering',
            actions: ['recordOutcome', 'rememberRetryAfter', 'scheduleProbe', 'announceTrip'],
          },
          {
            guard: 'consecutiveFailures',
            target: 'recovering',
            actions: ['recordOutcome', 'rememberRetryAfter', 'scheduleProbe', 'announceTrip'],
          },
          { guard: 'rateLimited', target: 'degraded', actions: ['recordOutcome', 'holdDegraded'] },
          { guard: 'windowUnhealthy', target: 'degraded', actions: ['recordOutcome', 'holdDegraded'] },
          { actions: 'recordOutcome' },
        ],
        'circuit.tripped': { target: 'recovering', actions: ['scheduleProbe', 'announceTrip'] },
        'cluster.tripped': { guard: 'peerDeadlineAhead', target: 'recovering', actions: ['adoptPeerDeadline', 'scheduleProbe'] },
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
          {
            guard: 'rateLimitedWithRetryAfter',
            target: 'recovering',
            actions: ['recordOutcome', 'rememberRetryAfter', 'scheduleProbe', 'announceTrip'],
          },
          {
            guard: 'consecutiveFailures',
            target: 'recovering',
            actions: ['recordOutcome', 'rememberRetryAfter', 'scheduleProbe', 'announceTrip'],
          },
          { guard: 'rateLimited', target: 'degraded', reenter: true, actions: ['recordOutcome', 'holdDegraded'] },
          { guard: 'windowUnhealthy', target: 'degraded', reenter: true, actions: ['recordOutcome', 'holdDegraded'] },
          { actions: 'recordOutcome' },
        ],
        'circuit.tripped': { target: 'recovering', actions: ['scheduleProbe', 'announceTrip'] },
        'cluster.tripped': { guard: 'peerDeadlineAhead', target: 'recovering', actions: ['adoptPeerDeadline', 'scheduleProbe'] },
      },
    },
    recovering: {
      initial: 'coolingDown',
      on: { 'cluster.recovered': { target: 'healthy', actions: ['resetBackoff', 'resetWindow'] } },
      states: {
        coolingDown: {
          entry: 'openCircuit',
          after: { backoff: 'probing' },
          on: {
            'cluster.tripped': { guard: 'peerDeadlineLater', target: 'coolingDown', reenter: true, actions: 'extendCooldown' },
          },
        },
        // Another instance holds the cluster's probe of this deployment: no traffic here until its verdict
        // arrives, or until its lease runs out (the holder died), when this instance claims the probe again.
        awaitingPeer: {
          entry: 'openCircuit',
          after: { peerProbeLease: 'probing' },
          on: {
            'cluster.tripped': { target: 'coolingDown', actions: 'extendCooldown' },
          },
        },
        probing: {
          entry: ['startProbing', 'closeCircuit'],
          initial: 'claiming',
          on: {
            'call.succeeded': {
              target: '#provider.healthy',
              actions: ['recordOutcome', 'resetBackoff', 'resetWindow', 'announceRecovery'],
            },
            'call.failed': [
              {
                guard: 'retryableFailure',
                target: 'coolingDown',
                actions: ['recordOutcome', 'rememberRetryAfter', 'scheduleProbe', 'announceTrip'],
              },
              { actions: 'recordOutcome' },
            ],
            'circuit.tripped': { target: 'coolingDown', actions: ['scheduleProbe', 'announceTrip'] },
            'cluster.tripped': { guard: 'peerDeadlineAhead', target: 'coolingDown', actions: 'extendCooldown' },
          },
          states: {
            // Alone, probing starts at once; in a cluster, only with the cluster's probe lease.
            claiming: {
              entry: 'claimProbe',
              always: { guard: 'standalone', target: 'waiting' },
              on: {
                'probe.leaseGranted': 'waiting',
                'probe.leaseDenied': { target: '#provider.recovering.awaitingPeer', actions: 'awaitPeerProbe' },
              },
            },
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
      on: { 'operator.disable': {}, 'operator.enable': '#provider.recovering.probing' },
    },
    // Removed by a config reload: admits nothing new; calls in flight still report (above) until the supervisor
    // stops it once none is left. Added back before that, it serves again (its window decides its health).
    draining: {
      entry: 'openCircuit',
      on: { 'operator.disable': {}, 'config.removed': {}, 'config.restored': { target: 'healthy', actions: 'resetBackoff' } },
    },
  },
});

export type ProviderSnapshot = SnapshotFrom<typeof providerMachine>;
export type ProviderRef = ActorRefFrom<typeof providerMachine>;
