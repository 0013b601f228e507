// Per-variant series on /metrics, read from the runtime when scraped (nothing per request): requests by
// outcome, tokens in and out, latency and TTFT p50/p95 of each experiment variant and rollout arm (labels
// `experiment` — the experiment's or the rollout's id — and `variant`), and each rollout's state and percentage.
// In a cluster these stay this instance's own figures even where the admin routes show the cluster's sums:
// Prometheus scrapes every instance and sums the counters itself (a cluster-wide sum exported by each instance
// would be counted once per instance); `switchyard_variant_figures_shared` says whether the sums are readable.

import { Counter, Gauge, type Registry } from '../prom.ts';
import type { Runtime } from '../runtime.ts';
import type { ArmFigures } from './stats.ts';

type Labelled = { experiment: string; variant: string; figures: ArmFigures };

function armsOf(runtime: Runtime): Labelled[] {
  const out: Labelled[] = [];
  for (const e of runtime.experiments()) for (const v of e.variants) out.push({ experiment: e.id, variant: v.name, figures: v.local ?? v });
  for (const r of runtime.rollouts()) {
    const arms = r.local?.arms ?? r.arms;
    out.push(
      { experiment: r.id, variant: 'baseline', figures: arms.baseline },
      { experiment: r.id, variant: 'canary', figures: arms.canary },
    );
  }
  return out;
}

const rolloutStates = ['pending', 'ramping', 'paused', 'promoted', 'rolledBack'] as const;

/** Adds the series to `registry`; with no experiment and no rollout it adds none. */
export function registerSplitMetrics(registry: Registry, runtime: Runtime) {
  if (runtime.experiments().length === 0 && runtime.rollouts().length === 0) return;
  const labelNames = ['experiment', 'variant'];
  // Totals kept by the arms themselves: each scrape sets them afresh.
  new Counter({
    name: 'switchyard_variant_requests_total',
    help: 'Requests of each experiment variant or rollout arm, by outcome (ok or the error code)',
    labelNames: [...labelNames, 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of armsOf(runtime)) {
        const ok = a.figures.requests - a.figures.errors;
        if (ok > 0) this.inc({ experiment: a.experiment, variant: a.variant, outcome: 'ok' }, ok);
        for (const [code, n] of Object.entries(a.figures.errorsByCode))
          this.inc({ experiment: a.experiment, variant: a.variant, outcome: code }, n);
      }
    },
  });
  new Counter({
    name: 'switchyard_variant_tokens_total',
    help: 'Tokens in and out of each experiment variant or rollout arm',
    labelNames: [...labelNames, 'direction'],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of armsOf(runtime)) {
        this.inc({ experiment: a.experiment, variant: a.variant, direction: 'in' }, a.figures.tokensIn);
        this.inc({ experiment: a.experiment, variant: a.variant, direction: 'out' }, a.figures.tokensOut);
      }
    },
  });
  const quantiles = (name: string, help: string, p50: (f: ArmFigures) => number | null, p95: (f: ArmFigures) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: [...labelNames, 'quantile'],
      registers: [registry],
      collect() {
        this.reset();
        for (const a of armsOf(runtime)) {
          for (const [q, value] of [
            ['0.5', p50(a.figures)],
            ['0.95', p95(a.figures)],
          ] as const) {
            if (value !== null) this.set({ experiment: a.experiment, variant: a.variant, quantile: q }, value / 1000);
          }
        }
      },
    });
  quantiles(
    'switchyard_variant_latency_seconds',
    'Latency of recent requests per variant',
    (f) => f.latencyP50Ms,
    (f) => f.latencyP95Ms,
  );
  quantiles(
    'switchyard_variant_ttft_seconds',
    'Time to first token of recent streams per variant',
    (f) => f.ttftP50Ms,
    (f) => f.ttftP95Ms,
  );
  // Only in a cluster: alone, the figures are always this instance's.
  if (runtime.cluster() !== null) {
    new Gauge({
      name: 'switchyard_variant_figures_shared',
      help: 'In a cluster: 1 while the admin routes show the figures summed over every instance, 0 while Redis cannot be read (this instance alone)',
      labelNames: ['experiment'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of [...runtime.experiments(), ...runtime.rollouts()]) this.set({ experiment: s.id }, s.scope === 'cluster' ? 1 : 0);
      },
    });
  }
  new Gauge({
    name: 'switchyard_rollout_percent',
    help: "The canary's share of subjects, in percent",
    labelNames: ['rollout'],
    registers: [registry],
    collect() {
      // A rollout a reload removed leaves the series.
      this.reset();
      for (const r of runtime.rollouts()) this.set({ rollout: r.id }, r.percent);
    },
  });
  new Gauge({
    name: 'switchyard_rollout_state',
    help: 'State of each rollout (1 for its current state)',
    labelNames: ['rollout', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of runtime.rollouts())
        for (const s of rolloutStates) this.set({ rollout: r.id, state: s }, r.state.split('.')[0] === s ? 1 : 0);
    },
  });
}
