// A Prometheus histogram with one label, counted in plain arrays on the hot path and formatted for prom-client's
// registry only when scraped. prom-client's own Histogram builds, validates and hashes its label object on every
// observation (a few µs per request in the profiles of docs/operations.md); here an observation is a Map lookup
// and a walk of the bucket bounds. The scrape output is prom-client's, line for line (a test compares the two).

import type { Registry } from '../prom.ts';

export interface HistogramOptions {
  name: string;
  help: string;
  labelName: string;
  /** Upper bounds, ascending; `+Inf` is implied. */
  buckets: readonly number[];
}

interface Series {
  /** Observations per bucket (not cumulative), one slot per bound. */
  counts: number[];
  sum: number;
  count: number;
}

interface Value {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
  /** prom-client's field for OpenMetrics exemplars, which Switchyard does not record: null on buckets. */
  exemplar?: null;
}

/** Registers the histogram on `registry`; returns its `observe(labelValue, value)`. */
export function labelledHistogram(registry: Registry, options: HistogramOptions): (label: string, value: number) => void {
  const { name, help, labelName, buckets } = options;
  const series = new Map<string, Series>();

  const values = (): Value[] => {
    const out: Value[] = [];
    for (const [label, s] of series) {
      const shared = { [labelName]: label };
      let cumulative = 0;
      for (const [i, bound] of buckets.entries()) {
        cumulative += s.counts[i] ?? 0;
        out.push({ labels: { le: bound }, sharedLabels: shared, value: cumulative, metricName: `${name}_bucket`, exemplar: null });
      }
      out.push(
        { labels: { le: '+Inf' }, sharedLabels: shared, value: s.count, metricName: `${name}_bucket`, exemplar: null },
        { labels: {}, sharedLabels: shared, value: s.sum, metricName: `${name}_sum` },
        { labels: {}, sharedLabels: shared, value: s.count, metricName: `${name}_count` },
      );
    }
    return out;
  };
  const data = (vs: unknown[]) => ({ name, help, type: 'histogram', values: vs, aggregator: 'sum' });

  registry.registerMetric({
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    // The text format: labels and the series' own label apart, as prom-client's histograms hand them over.
    getForPromString: async () => data(values()),
    // The JSON form: one label object per value.
    get: async () => data(values().map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }))),
    reset: () => series.clear(),
  } as unknown as Parameters<Registry['registerMetric']>[0]);

  return (label, value) => {
    // prom-client throws on a value that is not a finite number; a metric must never fail a request.
    if (!Number.isFinite(value)) return;
    let s = series.get(label);
    if (!s) {
      s = { counts: buckets.map(() => 0), sum: 0, count: 0 };
      series.set(label, s);
    }
    let i = 0;
    while (i < buckets.length && value > (buckets[i] as number)) i++;
    if (i < buckets.length) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
    s.count++;
  };
}
