// Prometheus metrics (prom-client) on a registry of their own. Per request: a few tallies (a Map update each;
// prom-client's own labelled inc hashes and validates the labels every time) and one histogram observation.
// Tallies reach their prom-client counters, and provider states are read, only when /metrics is scraped.

import { isSwitchyardError } from '../errors.ts';
import { Counter, Gauge, Registry } from '../prom.ts';
import { registerSplitMetrics } from '../rollout/metrics.ts';
import type { RouteInfo } from '../routing/request.ts';
import type { Runtime } from '../runtime.ts';
import { labelledHistogram } from './histogram.ts';

const healthStates = ['healthy', 'degraded', 'coolingDown', 'probing', 'disabled', 'draining'] as const;

/** `recovering.probing.waiting` → `probing`: the health word of a provider state path. */
const healthName = (path: string) => (path.startsWith('recovering.') ? (path.split('.')[1] ?? path) : path);

/** A counter counted in a Map on the hot path and handed to prom-client when scraped. Label values in order. */
function tally(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
  const pending = new Map<string, { values: readonly string[]; n: number }>();
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const entry of pending.values()) {
        if (entry.n === 0) continue;
        const labels: Record<string, string> = {};
        for (const [i, label] of labelNames.entries()) labels[label] = entry.values[i] ?? '';
        this.inc(labels, entry.n);
        entry.n = 0;
      }
    },
  });
  return (values: readonly string[], n = 1) => {
    const key = values.length === 1 ? (values[0] ?? '') : values.join('\u0000');
    const entry = pending.get(key);
    if (entry) entry.n += n;
    else pending.set(key, { values, n });
  };
}

export function createMetrics(runtime: Runtime) {
  const registry = new Registry();
  const requests = tally(registry, 'switchyard_requests_total', 'Chat requests by logical model, serving deployment and outcome', [
    'model',
    'deployment',
    'outcome',
  ]);
  const latency = labelledHistogram(registry, {
    name: 'switchyard_request_duration_seconds',
    help: 'Time to the whole answer (non-streaming) or to the end of the stream',
    labelName: 'model',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  });
  const firstToken = labelledHistogram(registry, {
    name: 'switchyard_time_to_first_token_seconds',
    help: 'Time from the request to the first token of a stream',
    labelName: 'model',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
  });
  const transitions = tally(registry, 'switchyard_provider_transitions_total', 'Changes of a deployment health state', [
    'deployment',
    'from',
    'to',
  ]);
  const reloads = tally(
    registry,
    'switchyard_config_reloads_total',
    'Config reloads by result: applied, or rejected (the config in use kept)',
    ['result'],
  );
  const splitChanges = tally(
    registry,
    'switchyard_config_split_changes_total',
    'Experiments and rollouts a config reload started, restarted (changed) or stopped (removed)',
    ['kind', 'change'],
  );
  // The per-variant series exist once there is a split: at start, or from the reload that adds the first one.
  let splitMetrics = false;
  const addSplitMetrics = () => {
    if (splitMetrics || (runtime.experiments().length === 0 && runtime.rollouts().length === 0)) return;
    splitMetrics = true;
    registerSplitMetrics(registry, runtime);
  };
  runtime.subscribe((r) => {
    if (r.machine === 'provider' && r.from !== null) transitions([r.actor, healthName(r.from), healthName(r.state)]);
    if (r.machine !== 'config') return;
    if (r.event === 'config.applied' || r.event === 'config.rejected') reloads([r.event === 'config.applied' ? 'applied' : 'rejected']);
    else {
      // `rollout.started` and the like (src/reload/reloader.ts).
      splitChanges(r.event.split('.'));
      addSplitMetrics();
    }
  });
  new Gauge({
    name: 'switchyard_config_version',
    help: 'Version of the config in use: 0 at start, one more per reload (in a cluster, the cluster-wide number)',
    registers: [registry],
    collect() {
      this.set(runtime.configStatus().version);
    },
  });
  const attempts = tally(registry, 'switchyard_attempts_total', 'Attempts made, by deployment and outcome', ['deployment', 'outcome']);
  const failovers = tally(registry, 'switchyard_failovers_total', 'Requests answered after more than one attempt', ['model']);
  const continued = tally(registry, 'switchyard_stream_continuations_total', 'Streams continued on another deployment', ['model']);
  const tokens = tally(registry, 'switchyard_tokens_total', 'Tokens in and out', ['model', 'direction']);
  new Gauge({
    name: 'switchyard_provider_state',
    help: 'Health state of each deployment (1 for its current state)',
    labelNames: ['deployment', 'state'],
    registers: [registry],
    collect() {
      // A deployment a reload removed leaves the series once it has stopped.
      this.reset();
      for (const p of runtime.providers()) for (const s of healthStates) this.set({ deployment: p.id, state: s }, p.health === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'switchyard_provider_in_flight',
    help: 'Calls in flight per deployment',
    labelNames: ['deployment'],
    registers: [registry],
    collect() {
      this.reset();
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
  // Only in a cluster: whether the link to the shared Redis is up (1) or the instance runs on its own state (0).
  if (runtime.cluster()) {
    new Gauge({
      name: 'switchyard_cluster_link_up',
      help: 'The link to the cluster Redis: 1 up, 0 connecting or degraded (this instance then runs on local state)',
      labelNames: ['instance'],
      registers: [registry],
      collect() {
        const view = runtime.cluster();
        if (view) this.set({ instance: view.instanceId }, view.link === 'up' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'switchyard_cluster_members',
      help: 'Instances of the cluster seen alive at the last heartbeat, this one included',
      registers: [registry],
      collect() {
        this.set(runtime.cluster()?.members.length ?? 0);
      },
    });
  }

  addSplitMetrics();

  // A model nobody serves is the client's own string: one label for all of them keeps the series bounded.
  let served = { version: runtime.configStatus().version, models: new Set(runtime.models()) };
  const modelLabel = (model: string) => {
    const { version } = runtime.configStatus();
    if (version !== served.version) served = { version, models: new Set(runtime.models()) };
    return served.models.has(model) ? model : '(unknown)';
  };

  return {
    registry,
    /** Starts timing a request; the returned stop takes the model when it was not known at the start (a conversation's). */
    startTimer: (model?: string) => {
      const started = performance.now();
      return (known: string | undefined = model) => {
        latency(modelLabel(known ?? ''), (performance.now() - started) / 1000);
      };
    },
    observeFirstToken: (model: string, seconds: number) => firstToken(modelLabel(model), seconds),
    observeRoute(client: string, route: RouteInfo, outcome: string, usage: { prompt_tokens: number; completion_tokens: number } | null) {
      // The client's string: labelled like every other series, so made-up names cannot grow them without bound.
      const model = modelLabel(client);
      requests([model, route.deployments.at(-1) ?? 'none', outcome]);
      for (const a of route.attempts) attempts([a.deployment, a.outcome]);
      if (route.attempts.length > 1) failovers([model]);
      if (route.continued) continued([model]);
      if (usage) {
        tokens([model, 'in'], usage.prompt_tokens);
        tokens([model, 'out'], usage.completion_tokens);
      }
    },
    observeError(model: string, err: unknown) {
      const code = isSwitchyardError(err) ? err.code : 'internal_error';
      requests([modelLabel(model), 'none', code]);
      if (isSwitchyardError(err)) for (const a of err.attempts ?? []) attempts([a.deployment, a.outcome]);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
