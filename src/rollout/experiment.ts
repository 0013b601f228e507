// An experiment's arms at run time: one per variant, each counting its outcomes, and the split that picks one
// for a point of [0, 1) by weight. Rebuilt when a reload changes the experiment; a variant that stays the same
// arm (what serves it and what it sets) keeps its figures across the rebuild.

import type { ExperimentConfig, SwitchyardConfig } from '../config.ts';
import { canonical } from './plan.ts';
import type { Outcome } from './rollout.ts';
import type { ArmCounter } from './shared-arms.ts';
import { type ArmFigures, ArmStats } from './stats.ts';
import { modelOfVariant, pickVariant } from './variants.ts';

export interface Arm {
  name: string;
  model: string;
  params?: SwitchyardConfig['experiments'][number]['variants'][number]['params'];
  observe(outcome: Outcome): void;
}

export interface Split {
  id: string;
  sticky: string;
  pick(point: number): Arm;
  /** The arm that serves when `arm` cannot: a rollout's baseline for its canary. */
  fallback(arm: Arm): Arm | null;
}

export interface ExperimentView {
  id: string;
  model: string;
  sticky: string;
  /** With `scope: cluster`, each variant's `local` is this instance's own share (what /metrics exports). */
  variants: (ArmFigures & { name: string; model: string; weight: number; local?: ArmFigures })[];
  /** `cluster`: the figures are summed over every instance (Redis); `instance`: this one's alone. */
  scope: 'cluster' | 'instance';
}

export interface ExperimentEntry {
  config: ExperimentConfig;
  /** The settings as canonical text: what a reload compares. */
  text: string;
  stats: Map<string, ArmStats>;
  /** The variants' figures summed across a cluster (null without one). */
  shared: ArmCounter | null;
  split: Split;
}

// What makes a variant the same arm across a reload: what serves it and what it sets (not its weight).
const variantText = (v: ExperimentConfig['variants'][number]) =>
  canonical({ model: v.model ?? null, deployments: v.deployments ?? null, params: v.params ?? null });

/** An experiment's split; a variant whose settings did not change since `previous` keeps its figures. */
export function buildExperiment(
  e: ExperimentConfig,
  previous: ExperimentEntry | undefined,
  sharedOf: (e: ExperimentConfig, names: readonly string[]) => ArmCounter | null,
): ExperimentEntry {
  const shared = sharedOf(
    e,
    e.variants.map((v) => v.name),
  );
  const stats = new Map(
    e.variants.map((v) => {
      const before = previous?.config.variants.find((b) => b.name === v.name);
      const kept = before && variantText(before) === variantText(v) ? previous?.stats.get(v.name) : undefined;
      return [v.name, kept ?? new ArmStats()];
    }),
  );
  const arms = e.variants.map((v) => ({
    name: v.name,
    model: modelOfVariant(e.id, v),
    weight: v.weight,
    ...(v.params ? { params: v.params } : {}),
    observe: (o: Outcome) => {
      record(stats.get(v.name), o);
      shared?.record(v.name, o);
    },
  }));
  const split: Split = { id: e.id, sticky: e.sticky, pick: (point) => pickVariant(arms, point), fallback: () => null };
  return { config: e, text: canonical(e), stats, shared, split };
}

function record(stats: ArmStats | undefined, o: Outcome) {
  if (!stats) return;
  if (o.ok) stats.succeeded(o.latencyMs, o.ttftMs, o.usage, o.failedWith);
  else stats.failed(o.code, o.latencyMs);
}

/** What the experiments route shows: each variant's figures, summed over the cluster when it can read them. */
export function viewOfExperiment(e: ExperimentEntry): ExperimentView {
  const cluster = e.shared?.figures() ?? null;
  return {
    id: e.config.id,
    model: e.config.model,
    sticky: e.config.sticky,
    variants: e.config.variants.map((v) => {
      const local = (e.stats.get(v.name) ?? new ArmStats()).figures();
      const summed = cluster?.get(v.name);
      return { name: v.name, model: modelOfVariant(e.config.id, v), weight: v.weight, ...(summed ? { ...summed, local } : local) };
    }),
    scope: cluster ? 'cluster' : 'instance',
  };
}
