// Prometheus metrics (prom-client) on a registry of their own. Per request: a few counter and histogram
// updates; provider states are read from the runtime only when /metrics is scraped.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RouteInfo } from '../actors/request.ts';
import { isSwitchyardError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';

const healthStates = ['healthy', 'degraded', 'coolingDown', 'probing', 'disabled'] as const;

/** `recovering.probing.waiting` → `probing`: the health word of a provider state path. */
const healthName = (path: string) => (path.startsWith('recovering.') ? (path.split('.')[1] ?? path) : path);

export function createMetrics(runtime: Runtime) {
  const registry = new Registry();
  const requests = new Counter({
    name: 'switchyard_requests_total',
    help: 'Chat requests by logical model, serving deployment and outcome',
    labelNames: ['model', 'deployment', 'outcome'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'switchyard_request_duration_seconds',
    help: 'Time to the whole answer (non-streaming) or to the end of the stream',
    labelNames: ['model'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry],
  });
  const firstToken = new Histogram({
    name: 'switchyard_time_to_first_token_seconds',
    help: 'Time from the request to the first token of a stream',
    labelNames: ['model'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  const transitions = new Counter({
    name: 'switchyard_provider_transitions_total',
    help: 'Changes of a deployment health state',
    labelNames: ['deployment', 'from', 'to'],
    registers: [registry],
  });
  runtime.subscribe((r) => {
    if (r.machine === 'provider' && r.from !== null)
      transitions.inc({ deployment: r.actor, from: healthName(r.from), to: healthName(r.state) });
  });
  const attempts = new Counter({
    name: 'switchyard_attempts_total',
    help: 'Attempts made, by deployment and outcome',
    labelNames: ['deployment', 'outcome'],
    registers: [registry],
  });
  const failovers = new Counter({
    name: 'switchyard_failovers_total',
    help: 'Requests answered after more than one attempt',
    labelNames: ['model'],
    registers: [registry],
  });
  const continued = new Counter({
    name: 'switchyard_stream_continuations_total',
    help: 'Streams continued on another deployment',
    labelNames: ['model'],
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'switchyard_tokens_total',
    help: 'Tokens in and out',
    labelNames: ['model', 'direction'],
    registers: [registry],
  });
  new Gauge({
    name: 'switchyard_provider_state',
    help: 'Health state of each deployment (1 for its current state)',
    labelNames: ['deployment', 'state'],
    registers: [registry],
    collect() {
      for (const p of runtime.providers()) for (const s of healthStates) this.set({ deployment: p.id, state: s }, p.health === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'switchyard_provider_in_flight',
    help: 'Calls in flight per deployment',
    labelNames: ['deployment'],
    registers: [registry],
    collect() {
      for (const p of runtime.providers()) this.set({ deployment: p.id }, p.metrics.inFlight);
    },
  });
  new Gauge({
    name: 'switchyard_conversations_active',
    help: 'Conversation actors in memory',
    registers: [registry],
    collect() {
      this.set(runtime.conversations.active());
    },
  });

  return {
    registry,
    startTimer: (model: string) => latency.startTimer({ model }),
    observeFirstToken: (model: string, seconds: number) => firstToken.observe({ model }, seconds),
    observeRoute(model: string, route: RouteInfo, outcome: string, usage: { prompt_tokens: number; completion_tokens: number } | null) {
      requests.inc({ model, deployment: route.deployments.at(-1) ?? 'none', outcome });
      for (const a of route.attempts) attempts.inc({ deployment: a.deployment, outcome: a.outcome });
      if (route.attempts.length > 1) failovers.inc({ model });
      if (route.continued) continued.inc({ model });
      if (usage) {
        tokens.inc({ model, direction: 'in' }, usage.prompt_tokens);
        tokens.inc({ model, direction: 'out' }, usage.completion_tokens);
      }
    },
    observeError(model: string, err: unknown) {
      const code = isSwitchyardError(err) ? err.code : 'internal_error';
      requests.inc({ model, deployment: 'none', outcome: code });
      if (isSwitchyardError(err)) for (const a of err.attempts ?? []) attempts.inc({ deployment: a.deployment, outcome: a.outcome });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
