// One rollout at run time: its actor (the machine of machine.ts, in the inspector like every actor), the two
// arms' figures (since start, and since the current step began: what the guards compare), and the operator
// commands. The request path reads `percent()` (a snapshot field) and reports each outcome with observe().

import { type ActorOptions, type AnyActorLogic, createActor, type InspectionEvent } from 'xstate';
import type { RolloutConfig } from '../config.ts';
import { SwitchyardError } from '../errors.ts';
import { statePath } from '../inspection/events.ts';
import { createRolloutMachine, type RolloutContext, type SyncedPhase } from './machine.ts';
import { type ArmFigures, ArmStats } from './stats.ts';

type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

export type ArmName = 'baseline' | 'canary';
export type RolloutCommand = 'pause' | 'resume' | 'promote' | 'abort';

/** A rollout as the admin routes show it. */
export interface RolloutView {
  id: string;
  model: string;
  from: string;
  to: string;
  /** State path: `pending`, `ramping.step2.holding`, `paused`, `promoted`, `rolledBack`. */
  state: string;
  /** The canary's share of subjects now, in percent. */
  percent: number;
  steps: number[];
  /** 1-based index of the current step; 0 before the first. */
  step: number;
  holdMs: number;
  sticky: string;
  guard: RolloutConfig['guard'];
  reason: string | null;
  /** Whether this instance drives the rollout (always alone; in a cluster, the holder of its lease). */
  driving: boolean;
  /** The arms in the current step: what the guards compare. */
  window: Record<ArmName, ArmFigures>;
  /** The arms since start. */
  arms: Record<ArmName, ArmFigures & { model: string }>;
  /** `cluster`: `window` and `arms` are summed over every instance (Redis); `instance`: this one's alone. */
  scope: 'cluster' | 'instance';
  /** With `scope: cluster`, this instance's own share of the figures. */
  local?: { window: Record<ArmName, ArmFigures>; arms: Record<ArmName, ArmFigures> };
}

/** In a cluster: the arms counted across instances (src/rollout/cluster-arms.ts). */
export interface SharedArmFigures {
  /** Counts an outcome for the cluster: in memory, written in batches (never a round trip per request). */
  observe(arm: ArmName, outcome: Outcome): void;
  /** A step began here: a new window. */
  stepEntered(): void;
  /** The cluster's figures, or null while Redis cannot be read (this instance's own are then used, and judged). */
  figures(): { window: Record<ArmName, ArmFigures>; arms: Record<ArmName, ArmFigures> } | null;
}

/** The systemId of a rollout's actor (how the inspector and the runtime find it). */
export const rolloutSystemId = (id: string) => `rollout:${id}`;

// Which states take which command: anything else is a conflict, answered with the state it is in.
const accepts: Record<RolloutCommand, (state: string) => boolean> = {
  pause: (s) => s.startsWith('ramping'),
  resume: (s) => s === 'paused',
  promote: (s) => s === 'pending' || s === 'paused' || s.startsWith('ramping'),
  abort: (s) => s === 'pending' || s === 'paused' || s.startsWith('ramping'),
};

export function createRollout(
  config: RolloutConfig,
  options: { inspect?: ((event: InspectionEvent) => void) | undefined; clock?: Clock | undefined },
) {
  const totals = { baseline: new ArmStats(), canary: new ArmStats() };
  let window = { baseline: new ArmStats(), canary: new ArmStats() };
  // In a cluster only the driving instance compares the arms; the others follow its state (cluster.ts).
  const role: { driving: boolean; forward: ((command: RolloutCommand) => void) | null; shared: SharedArmFigures | null } = {
    driving: true,
    forward: null,
    shared: null,
  };
  const logic = createRolloutMachine(config.steps).provide({
    actions: {
      stepEntered: () => {
        window = { baseline: new ArmStats(), canary: new ArmStats() };
        role.shared?.stepEntered();
      },
    },
  });
  const actor = createActor(logic, {
    id: rolloutSystemId(config.id),
    systemId: rolloutSystemId(config.id),
    input: { id: config.id, steps: config.steps, holdMs: config.holdMs, guard: config.guard },
    ...(options.inspect ? { inspect: options.inspect } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  actor.start();
  const context = (): RolloutContext => actor.getSnapshot().context;
  const state = () => statePath(actor.getSnapshot().value);
  // Stopped by a reload that removed or changed it: requests that picked an arm before still end here, and
  // the cluster link may still deliver its old messages; none of them reaches the stopped actor.
  let stopped = false;

  return {
    config,
    actor,
    /** Starts the ramp (pending → the first step), at start and when a config reload adds or changes it. */
    start: () => actor.send({ type: 'rollout.start' }),
    percent: () => context().percent,
    /** The logical model of an arm. */
    modelOf: (arm: ArmName) => (arm === 'canary' ? config.to : config.from),
    /** An arm's outcome: counted since start and in the step, and the step's figures sent to the actor to judge. */
    observe(arm: ArmName, outcome: Outcome) {
      if (stopped) return;
      for (const stats of [totals[arm], window[arm]]) {
        if (outcome.ok) stats.succeeded(outcome.latencyMs, outcome.ttftMs, outcome.usage, outcome.failedWith);
        else stats.failed(outcome.code, outcome.latencyMs);
      }
      role.shared?.observe(arm, outcome);
      // Only while ramping does anyone compare the arms, and in a cluster only the driving instance, on the
      // cluster's figures as they are read (cluster-arms.ts) unless Redis cannot be read.
      if (role.driving && state().startsWith('ramping') && !role.shared?.figures()) {
        actor.send({ type: 'arms.sampled', baseline: window.baseline.sample(), canary: window.canary.sample() });
      }
    },
    command(command: RolloutCommand) {
      const now = state();
      if (!accepts[command](now)) {
        throw new SwitchyardError('rollout_state_conflict', `rollout "${config.id}" is ${now}: it cannot ${command} now`);
      }
      if (role.forward && !role.driving) role.forward(command);
      else actor.send({ type: `operator.${command}` });
    },
    role,
    /** The state another instance follows: the top-level state, the step, the reason. */
    shared: () => ({ phase: state().split('.')[0] as SyncedPhase, step: context().step, reason: context().reason }),
    /** Takes the driving instance's state, when it differs from this one's. */
    follow(remote: { phase: SyncedPhase; step: number; reason: string | null }) {
      if (stopped) return;
      const here = context();
      if (state().split('.')[0] === remote.phase && here.step === remote.step && here.reason === remote.reason) return;
      actor.send({ type: 'cluster.synced', ...remote });
    },
    view(): RolloutView {
      const c = context();
      const local = {
        window: { baseline: window.baseline.figures(), canary: window.canary.figures() },
        arms: { baseline: totals.baseline.figures(), canary: totals.canary.figures() },
      };
      const cluster = role.shared?.figures() ?? null;
      const shown = cluster ?? local;
      return {
        id: config.id,
        model: config.model,
        from: config.from,
        to: config.to,
        state: state(),
        percent: c.percent,
        steps: [...config.steps],
        step: c.step + 1,
        holdMs: config.holdMs,
        sticky: config.sticky,
        guard: config.guard,
        reason: c.reason,
        driving: role.driving,
        window: shown.window,
        arms: { baseline: { model: config.from, ...shown.arms.baseline }, canary: { model: config.to, ...shown.arms.canary } },
        scope: cluster ? 'cluster' : 'instance',
        ...(cluster ? { local } : {}),
      };
    },
    /** Whether stop() was called (a reload removed or replaced it, or the runtime stopped). */
    stopped: () => stopped,
    stop() {
      stopped = true;
      role.driving = false;
      actor.stop();
    },
  };
}

type Usage = { prompt_tokens: number; completion_tokens: number };

/** A request's outcome on an arm: answered (perhaps after an upstream failure inside the arm), or not. */
export type Outcome =
  | { ok: true; latencyMs: number; ttftMs: number | null; usage: Usage | null; failedWith: string | null }
  | { ok: false; code: string; latencyMs: number };

export type Rollout = ReturnType<typeof createRollout>;
