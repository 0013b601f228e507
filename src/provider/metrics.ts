// Pure bookkeeping for a provider actor's metrics: counts, tokens, latency EWMA and a sample ring for p95.
// The machine hears of a call once, when it settles; calls in flight are counted by the deployment
// (src/provider/deployment.ts), which adds them to its view.

export interface ProviderMetrics {
  /** Calls settled: succeeded, failed or abandoned. */
  requests: number;
  successes: number;
  failures: number;
  failuresByCode: Record<string, number>;
  tokensIn: number;
  tokensOut: number;
  latencyEwmaMs: number | null;
  ttftEwmaMs: number | null;
  /** The most recent latencies, oldest first, at most `latencySampleSize` of them. */
  latencySamples: number[];
  consecutiveFailures: number;
}

export const latencySampleSize = 64;
const ewmaAlpha = 0.2;

export const emptyMetrics = (): ProviderMetrics => ({
  requests: 0,
  successes: 0,
  failures: 0,
  failuresByCode: {},
  tokensIn: 0,
  tokensOut: 0,
  latencyEwmaMs: null,
  ttftEwmaMs: null,
  latencySamples: [],
  consecutiveFailures: 0,
});

const ewma = (previous: number | null, sample: number) => (previous === null ? sample : previous + ewmaAlpha * (sample - previous));

function pushSample(samples: number[], value: number): number[] {
  const next = samples.length >= latencySampleSize ? samples.slice(1) : samples.slice();
  next.push(value);
  return next;
}

export interface SuccessSample {
  latencyMs: number;
  ttftMs?: number | undefined;
  tokensIn?: number | undefined;
  tokensOut?: number | undefined;
}

export function recordSuccess(m: ProviderMetrics, s: SuccessSample): ProviderMetrics {
  return {
    ...m,
    requests: m.requests + 1,
    successes: m.successes + 1,
    consecutiveFailures: 0,
    tokensIn: m.tokensIn + (s.tokensIn ?? 0),
    tokensOut: m.tokensOut + (s.tokensOut ?? 0),
    latencyEwmaMs: ewma(m.latencyEwmaMs, s.latencyMs),
    ttftEwmaMs: s.ttftMs === undefined ? m.ttftEwmaMs : ewma(m.ttftEwmaMs, s.ttftMs),
    latencySamples: pushSample(m.latencySamples, s.latencyMs),
  };
}

/** A failed call. Final errors are counted by code but do not extend the run of consecutive failures. */
export function recordFailure(m: ProviderMetrics, code: string, retryable: boolean): ProviderMetrics {
  return {
    ...m,
    requests: m.requests + 1,
    failures: m.failures + 1,
    failuresByCode: { ...m.failuresByCode, [code]: (m.failuresByCode[code] ?? 0) + 1 },
    consecutiveFailures: retryable ? m.consecutiveFailures + 1 : m.consecutiveFailures,
  };
}

/** A call the caller gave up on: it leaves flight without a verdict on the provider. */
export function recordAbandoned(m: ProviderMetrics): ProviderMetrics {
  return { ...m, requests: m.requests + 1 };
}

/** The 95th percentile of the recent latency samples (nearest rank), or null with no samples. */
export function latencyP95(m: ProviderMetrics): number | null {
  if (m.latencySamples.length === 0) return null;
  const sorted = m.latencySamples.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] ?? null;
}
