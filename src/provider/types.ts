// The provider machine's data: its input, context and events (src/provider/machine.ts is the chart).

import type { ProviderMetrics } from './metrics.ts';
import type { ProviderHealthInput, ProviderHealthOptions } from './options.ts';

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
  // Another instance of the cluster tripped this deployment until `until`, or saw its probe succeed.
  | { type: 'cluster.tripped'; at: number; until: number; instance: string }
  | { type: 'cluster.recovered'; at: number; instance: string }
  // The answer to this instance's claim of the cluster's one probe of this deployment.
  | { type: 'probe.leaseGranted'; at: number }
  | { type: 'probe.leaseDenied'; at: number; holder: string; until: number }
  | { type: 'operator.disable'; at: number }
  | { type: 'operator.enable'; at: number }
  // A config reload: new health options for this deployment, its removal (drain), or its return while draining.
  | { type: 'config.changed'; health: ProviderHealthOptions }
  | { type: 'config.removed' }
  | { type: 'config.restored' };

export interface ProviderInput {
  id: string;
  model?: string;
  health?: ProviderHealthInput;
  /** Seed of the jitter's PRNG; a fixed seed gives repeatable delays. */
  seed?: number;
  /** Part of a cluster: probes need the cluster's lease, and verdicts are announced. */
  clustered?: boolean;
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
  clustered: boolean;
  /** A cool-down deadline another instance set, to honour as the floor of the next one (0: none). */
  remoteUntil: number;
  /** Who tripped the current cool-down: `local`, or the instance id of the peer. */
  trippedBy: string | null;
  /** The peer holding the cluster's probe lease while this instance waits for its result, and for how long. */
  peerProbe: { holder: string; until: number; waitMs: number } | null;
}
