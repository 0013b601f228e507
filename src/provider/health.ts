// Reading a provider actor's snapshot on the hot path: its health in one word, and whether it admits a call.

import type { ProviderSnapshot } from './machine.ts';

/** The health state as one word: healthy, degraded, coolingDown, probing, disabled or draining (removed by a reload). */
export type ProviderHealth = 'healthy' | 'degraded' | 'coolingDown' | 'probing' | 'disabled' | 'draining';

export function healthOf(snapshot: ProviderSnapshot): ProviderHealth {
  // Read from the state value directly: this runs for every deployment on every request's ranking.
  const value: unknown = snapshot.value;
  if (value === 'healthy' || value === 'degraded' || value === 'disabled' || value === 'draining') return value;
  const recovering = typeof value === 'object' && value !== null ? (value as { recovering?: unknown }).recovering : undefined;
  // Waiting for a peer's probe takes no traffic, like a cool-down.
  if (recovering === 'coolingDown' || recovering === 'awaitingPeer') return 'coolingDown';
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
  // Claiming the cluster's probe lease: not this instance's probe yet.
  if ((snapshot.value as { recovering?: { probing?: unknown } }).recovering?.probing === 'claiming') return null;
  const { probesInFlight, options } = snapshot.context;
  return probesInFlight < options.probeCount ? 'probe' : null;
}
