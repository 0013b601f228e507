// The deployments of a running supervisor across config reloads: one per provider id + upstream model, with the
// spec it was built from. A reload is applied to it by diff: unchanged deployments are left alone (actor, health,
// backoff, metrics), changed ones get their new options live (a new adapter for new calls; health thresholds as
// an event to the actor), added ones spawn, and removed ones drain: they admit nothing new and stop once their
// calls and streams in flight have ended.

import type { SwitchyardConfig } from '../config.ts';
import { createDeployment, type Deployment, deploymentAdapter, type ProviderDeployment } from '../provider/deployment.ts';
import type { ProviderRef } from '../provider/machine.ts';
import { type ProviderHealthOptions, resolveProviderHealthOptions } from '../provider/options.ts';
import { type SwappableAdapter, swappableAdapter } from '../provider/swap.ts';
import type { ProviderInput } from '../provider/types.ts';
import type { OpenAIAdapter } from '../upstream/adapter.ts';

/** What a reload does to the deployments, by id (`provider/upstream-model`). */
export interface DeploymentPlan {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
}

export interface FleetDeps {
  now: () => number;
  /** Replaces a deployment's adapter, by id (tests of the wiring); such an adapter is never replaced. */
  adapters?: Record<string, OpenAIAdapter> | undefined;
  clustered: boolean;
  /** Spawns provider actors for new deployments and returns each one's ref, by id. */
  spawn(deployments: { id: string; input: ProviderInput }[]): (id: string) => ProviderRef | undefined;
  /** Stops a drained deployment's actor. */
  retire(id: string): void;
}

interface Entry {
  deployment: Deployment;
  spec: ProviderDeployment;
  adapter: SwappableAdapter | undefined;
  /** Set while draining: stops watching its calls in flight. */
  unwatch: (() => void) | null;
}

/** The deployments a config describes: one per provider × upstream model, in config order. */
export function deploymentSpecs(config: SwitchyardConfig): Map<string, ProviderDeployment> {
  const specs = new Map<string, ProviderDeployment>();
  for (const p of config.providers) {
    for (const { model } of Object.values(p.models)) {
      const id = `${p.id}/${model}`;
      if (specs.has(id)) continue;
      const { baseURL, apiKey, timeoutMs, streamIdleTimeoutMs, headers, health, maxResponseBytes, api } = p;
      specs.set(id, { id, baseURL, apiKey, model, timeoutMs, streamIdleTimeoutMs, headers, health, maxResponseBytes, api });
    }
  }
  return specs;
}

const wireOf = (s: ProviderDeployment) =>
  JSON.stringify([
    s.baseURL,
    s.apiKey ?? null,
    s.timeoutMs,
    s.streamIdleTimeoutMs,
    s.headers ?? null,
    s.maxResponseBytes ?? null,
    s.api ?? 'chat',
  ]);
const healthOf = (s: ProviderDeployment): ProviderHealthOptions => resolveProviderHealthOptions(s.health, `providers.${s.id}.health`);

export function createFleet(deps: FleetDeps) {
  const entries = new Map<string, Entry>();

  function reconfigure(entry: Entry, spec: ProviderDeployment) {
    const before = entry.spec;
    entry.spec = spec;
    if (wireOf(before) !== wireOf(spec)) entry.adapter?.replace(deploymentAdapter(spec));
    const health = healthOf(spec);
    if (JSON.stringify(healthOf(before)) === JSON.stringify(health)) return;
    entry.deployment.circuit.retune(health);
    entry.deployment.actor.send({ type: 'config.changed', health });
  }

  function drain(id: string, entry: Entry) {
    entry.deployment.actor.send({ type: 'config.removed' });
    // Every call that settles reaches the actor as an event, after the count of calls in flight went down.
    const check = () => {
      if (entry.deployment.inFlight() > 0 || entry.unwatch === null) return;
      entry.unwatch();
      entry.unwatch = null;
      entries.delete(id);
      queueMicrotask(() => {
        deps.retire(id);
        entry.deployment.stop();
      });
    };
    const subscription = entry.deployment.actor.subscribe(check);
    entry.unwatch = () => subscription.unsubscribe();
    check();
  }

  return {
    /** A deployment by id, draining ones included (their actors still report). */
    get: (id: string) => entries.get(id)?.deployment,
    ids: () => [...entries.keys()],
    all: () => [...entries.values()].map((e) => e.deployment),
    /** Whether a deployment is draining (removed by a reload, calls still in flight). */
    draining: (id: string) => entries.get(id)?.unwatch != null,

    /** What applying `specs` would do; changes nothing. */
    plan(specs: ReadonlyMap<string, ProviderDeployment>): DeploymentPlan {
      const plan: DeploymentPlan = { added: [], changed: [], removed: [], unchanged: [] };
      for (const [id, spec] of specs) {
        const entry = entries.get(id);
        if (!entry || entry.unwatch !== null) plan.added.push(id);
        else if (JSON.stringify(entry.spec) === JSON.stringify(spec)) plan.unchanged.push(id);
        else plan.changed.push(id);
      }
      for (const [id, entry] of entries) if (!specs.has(id) && entry.unwatch === null) plan.removed.push(id);
      return plan;
    },

    /** Applies a plan made by plan(specs). Call only after the whole new config is valid: this step cannot fail halfway. */
    apply(specs: ReadonlyMap<string, ProviderDeployment>, plan: DeploymentPlan) {
      const spawned: Entry[] = [];
      for (const id of plan.added) {
        const spec = specs.get(id) as ProviderDeployment;
        const known = entries.get(id);
        if (known) {
          // Removed, then added back before it finished draining: it serves again.
          known.unwatch?.();
          known.unwatch = null;
          known.deployment.actor.send({ type: 'config.restored' });
          reconfigure(known, spec);
          continue;
        }
        const override = deps.adapters?.[id];
        const adapter = override ? undefined : swappableAdapter(deploymentAdapter(spec));
        const deployment = createDeployment(spec, { now: deps.now, adapter: override ?? adapter });
        const entry: Entry = { deployment, spec, adapter, unwatch: null };
        entries.set(id, entry);
        spawned.push(entry);
      }
      if (spawned.length > 0) {
        const refOf = deps.spawn(
          spawned.map(({ deployment: d }) => ({ id: d.id, input: deps.clustered ? { ...d.input, clustered: true } : d.input })),
        );
        for (const { deployment } of spawned) {
          const ref = refOf(deployment.id);
          if (ref) deployment.attach(ref);
        }
      }
      for (const id of plan.changed) {
        const entry = entries.get(id);
        if (entry) reconfigure(entry, specs.get(id) as ProviderDeployment);
      }
      for (const id of plan.removed) {
        const entry = entries.get(id);
        if (entry) drain(id, entry);
      }
    },

    stop() {
      for (const entry of entries.values()) {
        entry.unwatch?.();
        entry.deployment.stop();
      }
    },
  };
}

export type Fleet = ReturnType<typeof createFleet>;
