// An experiment's arms at run time: one per variant, each counting its outcomes, and the split that picks one
// for a point of [0, 1) by weight. Rebuilt when a reload changes the experiment; a variant that stays the same
// arm (what serves it and what it sets) keeps its figures across the rebuild.

import type { ExperimentConfig, SwitchyardConfig } from '../config.ts';
import { canonical } from './plan.ts';
import type { Outcome } from './rollout.ts';
import { ArmStats } from './stats.ts';
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

export interface ExperimentEntry {
  config: ExperimentConfig;
  /** The settings as canonical text: what a reload compares. */
  text: string;
  stats: Map<string, ArmStats>;
  split: Split;
}

// What makes a variant the same arm across a reload: what serves it and what it sets (not its weight).
const variantText = (v: ExperimentConfig['variants'][number]) =>
  canonical({ model: v.model ?? null, deployments: v.deployments ?? null, params: v.params ?? null });

/** An experiment's split; a variant whose settings did not change since `previous` keeps its figures. */
export function buildExperiment(e: ExperimentConfig, previous: ExperimentEntry | undefined): ExperimentEntry {
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
    observe: (o: Outcome) => record(stats.get(v.name), o),
  }));
  const split: Split = { id: e.id, sticky: e.sticky, pick: (point) => pickVariant(arms, point), fallback: () => null };
  return { config: e, text: canonical(e), stats, split };
}

function record(stats: ArmStats | undefined, o: Outcome) {
  if (!stats) return;
  if (o.ok) stats.succeeded(o.latencyMs, o.ttftMs, o.usage, o.failedWith);
  else stats.failed(o.code, o.latencyMs);
}
