// The serializable view of a deployment: its provider actor's state and metrics, what /v1/providers, the
// runtime and the inspector read.

import { statePath } from '../inspection/events.ts';
import { healthOf, type ProviderHealth } from './health.ts';
import type { ProviderSnapshot } from './machine.ts';
import { latencyP95, type ProviderMetrics } from './metrics.ts';

/** A serializable view of a provider: what the supervisor and the HTTP layer read. */
export interface ProviderView {
  id: string;
  model: string;
  health: ProviderHealth;
  /** The full state path, e.g. `recovering.probing.waiting`. */
  state: string;
  attempt: number;
  nextProbeAt: number | null;
  lastError: { code: string; message: string; at: number } | null;
  /** Who tripped the current cool-down: `local`, or the id of the cluster instance that did; null while serving. */
  trippedBy: string | null;
  /** In a cluster: the instance whose probe of this deployment this one waits for, and until when. */
  peerProbe: { holder: string; until: number } | null;
  /** `requests` counts calls started: settled ones and the `inFlight` ones. */
  metrics: Omit<ProviderMetrics, 'latencySamples'> & { inFlight: number; latencyP95Ms: number | null };
}

/** The serializable view of a provider actor's snapshot, with the deployment's calls in flight. */
export function viewOf(snapshot: ProviderSnapshot, inFlight: number): ProviderView {
  const c = snapshot.context;
  const { latencySamples: _samples, ...metrics } = c.metrics;
  return {
    id: c.id,
    model: c.model,
    health: healthOf(snapshot),
    state: statePath(snapshot.value),
    attempt: c.attempt,
    nextProbeAt: c.nextProbeAt,
    lastError: c.lastError,
    trippedBy: c.trippedBy,
    peerProbe: c.peerProbe === null ? null : { holder: c.peerProbe.holder, until: c.peerProbe.until },
    metrics: { ...metrics, requests: metrics.requests + inFlight, inFlight, latencyP95Ms: latencyP95(c.metrics) },
  };
}
