// What the demo prints while it runs: every health change of every deployment as it happens (from the actors'
// inspection stream), and, once its own scenario is over, every request through the gateway that failed or
// needed a failover (from the supervisor's decisions), so breaking a mock by hand shows its effect.

import type { Decision } from './routing/supervisor.ts';
import type { Runtime } from './runtime.ts';

/** Prints each deployment's health when it changes; returns the unsubscribe function. */
export function narrateHealth(runtime: Runtime, print: (line: string) => void): () => void {
  const last = new Map<string, string>(runtime.providers().map((p) => [p.id, p.health]));
  return runtime.subscribe((record) => {
    if (record.machine !== 'provider') return;
    const p = runtime.providers().find((view) => view.id === record.actor);
    if (!p || last.get(p.id) === p.health) return;
    last.set(p.id, p.health);
    print(`  ${p.provider} → ${p.health}${p.health === 'coolingDown' ? ` (attempt ${p.attempt})` : ''}`);
  });
}

const short = (deployment: string) => deployment.replace(/\/mock-model$/, '');

/** One line for a request that failed or failed over; undefined for one served at the first attempt. */
export function describeDecision(decision: Decision): string | undefined {
  const failed = decision.route.attempts.filter((a) => a.outcome !== 'ok');
  if (decision.outcome === 'ok' && failed.length === 0) return undefined;
  const tried = failed.map((a) => `${short(a.deployment)}: ${a.outcome}`).join(', ');
  if (decision.outcome !== 'ok') return `  request for "${decision.model}" failed: ${decision.outcome}${tried ? ` (tried ${tried})` : ''}`;
  return `  request for "${decision.model}" served by ${decision.route.deployments.map(short).join(' + ')} after ${tried}`;
}

/**
 * Prints every new failed or failed-over request. Decisions live in a bounded ring that the supervisor fills
 * on the hot path; reading it a few times a second costs the requests nothing (a ring of 256 is far more
 * than a person's curl sends between two reads).
 */
export function narrateFailures(runtime: Runtime, print: (line: string) => void, everyMs = 250): () => void {
  const seen = new WeakSet<Decision>(runtime.decisions());
  const timer = setInterval(() => {
    for (const decision of runtime.decisions()) {
      if (seen.has(decision)) continue;
      seen.add(decision);
      const line = describeDecision(decision);
      if (line) print(line);
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
