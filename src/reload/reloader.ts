// Live config reload: a new config is checked whole (the schema and the rules across fields), then applied in
// one step: all or nothing. The supervisor takes the deployments and routes (src/routing/supervisor.ts, apply),
// then the splits their experiments and rollouts (src/rollout/splits.ts, apply), both by diff. What cannot
// change on a running process (the cluster link, API keys, limits, the store) keeps its running value and is
// reported as needing a restart. Every outcome is an inspection record (the inspector's event log; metrics count
// them), and so is each experiment or rollout a reload started, restarted or stopped; and part of
// configStatus(), which /v1/providers and /metrics report.

import { conversationsSchema } from '../config/schema.ts';
import { checkConfig, configError, type SwitchyardConfig } from '../config.ts';
import type { SwitchyardError } from '../errors.ts';
import type { InspectionRecord } from '../inspection/events.ts';
import type { SplitPlan, SplitsPlan } from '../rollout/plan.ts';
import type { ApplyResult, Supervisor } from '../routing/supervisor.ts';

/** Where a reload came from. */
export type ReloadSource = 'api' | 'file' | 'signal' | 'cluster' | 'embedding';

export interface ReloadResult extends ApplyResult {
  source: ReloadSource;
  /** Experiments by id: added (started), changed (started afresh), removed (stopped), unchanged (left running). */
  experiments: SplitPlan;
  /** Rollouts by id, likewise: an unchanged one keeps its step, figures and state. */
  rollouts: SplitPlan;
  /** Settings that differ from the running ones but apply only at a restart (their running values stay). */
  restartRequired: string[];
  /** In a cluster: whether the config went to the other instances (false: Redis was unreachable, applied here only). */
  shared?: boolean;
}

export interface ConfigStatus {
  /** The version of the config in use: 0 at start, one more per reload (in a cluster, the cluster's number). */
  version: number;
  appliedAt: number;
  source: ReloadSource | 'start';
  /** The last config that could not be applied here, and why; null once a later one applied. */
  rejected: { version: number | null; source: ReloadSource; message: string; param: string | null; at: number } | null;
}

/** Settings read once at start: changing them needs a restart (docs/configuration.md, "Live reload"). */
const restartOnly = ['cluster', 'auth', 'limits', 'server', 'conversations.store'] as const;

function sectionOf(config: SwitchyardConfig, path: (typeof restartOnly)[number]): unknown {
  return path === 'conversations.store' ? config.conversations.store : config[path];
}

/** The experiments and rollouts, as a reload changes them (src/rollout/splits.ts). */
export interface SplitsTarget {
  plan(config: SwitchyardConfig): SplitsPlan;
  apply(config: SwitchyardConfig, plan: SplitsPlan): SplitsPlan;
}

/** What a reload did to one experiment or rollout, as the inspector's event log and the metrics see it. */
export type SplitChange = 'started' | 'restarted' | 'stopped';

export interface ReloaderDeps {
  supervisor: Supervisor;
  splits: SplitsTarget;
  env: NodeJS.ProcessEnv;
  now: () => number;
  /** Sends a record to the inspection stream. */
  publish(record: InspectionRecord): void;
}

export function createReloader(deps: ReloaderDeps) {
  let status: ConfigStatus = { version: deps.supervisor.generation().version, appliedAt: deps.now(), source: 'start', rejected: null };

  const record = (event: 'config.applied' | 'config.rejected', from: number, to: number) =>
    deps.publish({ actor: 'config', machine: 'config', state: `v${to}`, from: `v${from}`, event, at: deps.now() });

  // One record per split a reload touched: actor `config:rollout:<id>` (no actor of its own on the page), its
  // event `rollout.started` and the like. The rollout actors report their own states besides.
  const recordSplits = (kind: 'experiment' | 'rollout', plan: SplitPlan) => {
    const changes: [SplitChange, string[]][] = [
      ['started', plan.added],
      ['restarted', plan.changed],
      ['stopped', plan.removed],
    ];
    for (const [change, ids] of changes) {
      for (const id of ids) {
        const from = change === 'started' ? null : 'running';
        const state = change === 'stopped' ? 'stopped' : 'running';
        deps.publish({ actor: `config:${kind}:${id}`, machine: 'config', state, from, event: `${kind}.${change}`, at: deps.now() });
      }
    }
  };

  function reject(err: SwitchyardError, source: ReloadSource, version: number | null): never {
    status = { ...status, rejected: { version, source, message: err.message, param: err.param ?? null, at: deps.now() } };
    record('config.rejected', status.version, status.version);
    throw err;
  }

  return {
    /** The config in use (resolved; secrets included: mask them before showing it). */
    config: (): SwitchyardConfig => deps.supervisor.generation().config,
    status: (): ConfigStatus => status,

    /** Checks `input` as a whole config; throws `invalid_config` naming the first bad field (recorded). Changes nothing else. */
    check(input: unknown, source: ReloadSource): SwitchyardConfig {
      const result = checkConfig(input, deps.env);
      if (!result.ok) return reject(configError(result.issues), source, null);
      return result.config;
    },

    /**
     * Checks `input` and applies it (or throws `invalid_config`, recorded, with nothing changed). `version`: the
     * cluster's number for this config; one more than the running one by default.
     */
    reload(input: unknown, source: ReloadSource, version?: number): ReloadResult {
      const running = deps.supervisor.generation().config;
      const result = checkConfig(input, deps.env);
      if (!result.ok) return reject(configError(result.issues), source, version ?? null);
      const next = { ...result.config };
      const restartRequired: string[] = [];
      for (const path of restartOnly) {
        if (JSON.stringify(sectionOf(next, path)) !== JSON.stringify(sectionOf(running, path))) restartRequired.push(path);
      }
      next.cluster = running.cluster;
      next.auth = running.auth;
      next.limits = running.limits;
      next.server = running.server;
      next.conversations = { ...next.conversations, store: running.conversations.store };
      const from = status.version;
      // Planned before anything changes; neither step can fail on a config that passed the check.
      const splitsPlan = deps.splits.plan(next);
      const applied = deps.supervisor.apply(next, version ?? from + 1);
      deps.splits.apply(next, splitsPlan);
      status = { version: applied.version, appliedAt: deps.now(), source, rejected: null };
      record('config.applied', from, applied.version);
      recordSplits('experiment', splitsPlan.experiments);
      recordSplits('rollout', splitsPlan.rollouts);
      return { ...applied, ...splitsPlan, source, restartRequired };
    },
  };
}

export type Reloader = ReturnType<typeof createReloader>;

/**
 * A config whose sections read the live one at each access: handed to what is built once (the conversation
 * registry) so that it reads the settings of the config in use. `conversations` is a view of its own, since
 * the registry keeps that object.
 */
export function liveConfig(read: () => SwitchyardConfig): SwitchyardConfig {
  const conversations = Object.defineProperties(
    {},
    Object.fromEntries(
      Object.keys(conversationsSchema.properties).map((k) => [
        k,
        { enumerable: true, get: () => read().conversations[k as keyof SwitchyardConfig['conversations']] },
      ]),
    ),
  ) as SwitchyardConfig['conversations'];
  return {
    get providers() {
      return read().providers;
    },
    get routing() {
      return read().routing;
    },
    get health() {
      return read().health;
    },
    conversations,
    get cluster() {
      return read().cluster;
    },
    get auth() {
      return read().auth;
    },
    get limits() {
      return read().limits;
    },
    get server() {
      return read().server;
    },
    get experiments() {
      return read().experiments;
    },
    get rollouts() {
      return read().rollouts;
    },
  };
}
