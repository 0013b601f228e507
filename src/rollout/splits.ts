// Experiments and rollouts on the request path: which splits exist (built at start, applied by diff on a
// reload) and which arm a request of a split model gets (a sticky hash of its subject, else a random draw).
// Serving it on that arm, counting it and the canary's fallback to the baseline: arm-calls.ts. A model that is
// not split never reaches this module (the runtime checks one Map first).

import { createHash } from 'node:crypto';
import type { InspectionEvent } from 'xstate';
import type { ClusterLink } from '../cluster/link.ts';
import type { ExperimentConfig, RolloutConfig, SwitchyardConfig } from '../config.ts';
import { SwitchyardError } from '../errors.ts';
import type { CallOptions, ChatCompletionRequest, EmbeddingsRequest } from '../routing/request.ts';
import { createArmCalls, type SplitTarget } from './arm-calls.ts';
import { shareRollout } from './cluster.ts';
import { type Arm, buildExperiment, type ExperimentEntry, type ExperimentView, type Split, viewOfExperiment } from './experiment.ts';
import { type Subject, subjectKey, subjectPoint } from './hash.ts';
import { canonical, planSplits, type SplitsPlan } from './plan.ts';
import { type ArmName, createRollout, type Rollout, type RolloutCommand, type RolloutView } from './rollout.ts';
import { createSharedArms, type SharedArms } from './shared-arms.ts';

export type { SplitTarget } from './arm-calls.ts';
export type { ExperimentView } from './experiment.ts';
export type { Subject } from './hash.ts';
export type { SplitPlan, SplitsPlan } from './plan.ts';
export type { RolloutCommand, RolloutView } from './rollout.ts';

/** What a split request passes besides its body: the caller's signal and tenant, and who it is (for sticky arms). */
export type SplitCallOptions = CallOptions;

interface RolloutEntry {
  rollout: Rollout;
  text: string;
  split: Split;
  /** Stops sharing it through the cluster (null alone). */
  unshare: (() => Promise<void>) | null;
}

export function createSplits(
  config: Pick<SwitchyardConfig, 'experiments' | 'rollouts'>,
  deps: {
    target: SplitTarget;
    now: () => number;
    random: () => number;
    inspect?: ((event: InspectionEvent) => void) | undefined;
    clock?: Parameters<typeof createRollout>[1]['clock'];
    /** In a cluster: one instance drives each rollout under a lease of `leaseMs`, the others follow. */
    cluster?: { link: ClusterLink; leaseMs: number; flushMs?: number | undefined } | undefined;
  },
) {
  const { target, now, random } = deps;
  const experiments = new Map<string, ExperimentEntry>();
  const rollouts = new Map<string, RolloutEntry>();
  // The split of each model: rebuilt by apply() and swapped whole, so a request sees one config's splits.
  let byModel: ReadonlyMap<string, Split> = new Map();
  // Leases being given back by rollouts a reload stopped: stop() waits for them.
  const releasing = new Set<Promise<void>>();

  // In a cluster the arms' figures are also summed in Redis, written in batches (src/rollout/shared-arms.ts);
  // made with the first split, so that a cluster without one runs no flush timer.
  let sharedArms: SharedArms | null = null;
  const armsOf = (cluster: { link: ClusterLink; flushMs?: number | undefined }) =>
    (sharedArms ??= createSharedArms(cluster.link, { flushMs: cluster.flushMs }));
  // An experiment's variants summed across the cluster: each version of its settings under keys of its own.
  const sharedVariants = (e: ExperimentConfig, names: readonly string[]) =>
    deps.cluster
      ? armsOf(deps.cluster).counter(`${deps.cluster.link.prefix}:{experiment:${e.id}#${shortHash(canonical(e))}}:variants`, names)
      : null;

  function startRollout(r: RolloutConfig): RolloutEntry {
    const rollout = createRollout(r, { inspect: deps.inspect, clock: deps.clock });
    const arm = (name: ArmName): Arm => ({ name, model: rollout.modelOf(name), observe: (o) => rollout.observe(name, o) });
    const baseline = arm('baseline');
    const canary = arm('canary');
    // Subjects below the percentage are the canary's: raising it only moves subjects from the baseline.
    const split: Split = {
      id: r.id,
      sticky: r.sticky,
      pick: (point) => (point < rollout.percent() / 100 ? canary : baseline),
      fallback: (a) => (a === canary ? baseline : null),
    };
    rollout.start();
    const text = canonical(r);
    // Each version of a rollout's settings has keys of its own in Redis: one a reload changed starts afresh on
    // every instance rather than follow (or, taking the lease, drive on from) the state its former self left.
    const shared = deps.cluster
      ? shareRollout(
          deps.cluster.link,
          { ...rollout, config: { ...r, id: `${r.id}#${shortHash(text)}` } },
          { leaseMs: deps.cluster.leaseMs, arms: armsOf(deps.cluster) },
        )
      : null;
    return { rollout, split, text, unshare: shared };
  }

  function stopRollout(entry: RolloutEntry) {
    if (entry.unshare) {
      // Called before the actor stops: a driver gives its lease back.
      const released = entry.unshare().finally(() => releasing.delete(released));
      releasing.add(released);
    }
    entry.rollout.stop();
  }

  /** What applying `next` would do; changes nothing. */
  function plan(next: Pick<SwitchyardConfig, 'experiments' | 'rollouts'>): SplitsPlan {
    const texts = <E extends { text: string }>(m: ReadonlyMap<string, E>) => new Map([...m].map(([id, e]) => [id, e.text]));
    return { experiments: planSplits(texts(experiments), next.experiments), rollouts: planSplits(texts(rollouts), next.rollouts) };
  }

  /**
   * Applies `next` (valid as a whole) by diff: added splits start, removed ones stop, changed ones start afresh
   * (an experiment keeps the figures of each variant whose settings did not change), unchanged ones are left
   * alone: a rollout keeps its step, its arms' figures and its state, paused, promoted or rolled back.
   */
  function apply(next: Pick<SwitchyardConfig, 'experiments' | 'rollouts'>, p: SplitsPlan = plan(next)) {
    for (const id of [...p.rollouts.removed, ...p.rollouts.changed]) {
      const entry = rollouts.get(id);
      rollouts.delete(id);
      if (entry) stopRollout(entry);
    }
    // A removed or changed experiment's cluster counter leaves the flushes (a changed one gets a counter of its
    // own version's keys).
    for (const id of [...p.experiments.removed, ...p.experiments.changed]) experiments.get(id)?.shared?.release();
    for (const id of p.experiments.removed) experiments.delete(id);
    const changed = new Set([...p.experiments.added, ...p.experiments.changed]);
    for (const e of next.experiments)
      if (changed.has(e.id)) experiments.set(e.id, buildExperiment(e, experiments.get(e.id), sharedVariants));
    const fresh = new Set([...p.rollouts.added, ...p.rollouts.changed]);
    for (const r of next.rollouts) if (fresh.has(r.id)) rollouts.set(r.id, startRollout(r));
    const models = new Map<string, Split>();
    for (const e of next.experiments) {
      const entry = experiments.get(e.id);
      if (entry) models.set(e.model, entry.split);
    }
    for (const r of next.rollouts) {
      const entry = rollouts.get(r.id);
      if (entry) models.set(r.model, entry.split);
    }
    byModel = models;
    return p;
  }

  apply(config);

  const armOf = (split: Split, subject: Subject | undefined) => {
    const key = subjectKey(split.sticky, subject);
    return split.pick(key === null ? random() : subjectPoint(split.id, key));
  };

  const onArm = createArmCalls(target, now);

  const splitOf = (model: string) => byModel.get(model) as Split;

  return {
    /** Whether `model` is split: the one lookup an unsplit request pays. */
    has: (model: string) => byModel.has(model),
    /** The split models (what clients may send besides the served ones). */
    models: () => [...byModel.keys()],
    chat: (request: ChatCompletionRequest, options: SplitCallOptions = {}) => {
      const split = splitOf(request.model);
      return onArm.chat(split, armOf(split, options.subject), request, options);
    },
    stream: (request: ChatCompletionRequest, options: SplitCallOptions = {}) => {
      const split = splitOf(request.model);
      return onArm.stream(split, armOf(split, options.subject), request, options);
    },
    /** Embeddings on the subject's arm: the same arms, metrics and canary fallback as chat. */
    embeddings: (request: EmbeddingsRequest, options: SplitCallOptions = {}) => {
      const split = splitOf(request.model);
      return onArm.embeddings(split, armOf(split, options.subject), request, options);
    },
    /** The arm a subject gets now (the same arm the next request of that subject is sent to). */
    assign: (model: string, subject: Subject | undefined) => {
      const split = byModel.get(model);
      return split ? armOf(split, subject).name : null;
    },
    experiments: (): ExperimentView[] => [...experiments.keys()].map((id) => experimentView(id)),
    experiment: (id: string): ExperimentView => experimentView(id),
    rollouts: (): RolloutView[] => [...rollouts.values()].map((r) => r.rollout.view()),
    rollout: (id: string): RolloutView => rolloutOf(id).view(),
    /** An operator command on a rollout; `rollout_state_conflict` when its state does not take it. */
    command(id: string, command: RolloutCommand): RolloutView {
      const rollout = rolloutOf(id);
      rollout.command(command);
      return rollout.view();
    },
    /** Every rollout actor, for the inspector and the runtime's subscribe(). */
    actors: () => [...rollouts.values()].map((r) => r.rollout.actor),
    plan,
    apply,
    stop: async () => {
      const entries = [...rollouts.values()];
      rollouts.clear();
      for (const entry of entries) stopRollout(entry);
      await Promise.all([...releasing]);
      // The last counts of this instance still reach the cluster's sums (bounded by the command timeout).
      await sharedArms?.stop();
    },
  };

  function rolloutOf(id: string): Rollout {
    const entry = rollouts.get(id);
    if (!entry) throw new SwitchyardError('rollout_not_found', `no rollout "${id}"`, { param: 'id' });
    return entry.rollout;
  }

  function experimentView(id: string): ExperimentView {
    const entry = experiments.get(id);
    if (!entry) throw new SwitchyardError('experiment_not_found', `no experiment "${id}"`, { param: 'id' });
    return viewOfExperiment(entry);
  }
}

const shortHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

export type Splits = ReturnType<typeof createSplits>;
