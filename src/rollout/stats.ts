// What an arm of a split measured: requests, errors by code (a request counts as an error when its arm's
// upstream failed on it at least once, even if a retry inside the arm answered: the guards compare upstreams), latency and time to first token (bounded rings of
// recent samples for the percentiles), tokens in and out. One instance counts since start (metrics and the
// admin routes), another since the rollout's current step began (its guards). Pure.

/** The newest `size` numbers. */
class Ring {
  readonly #values: number[] = [];
  #next = 0;
  readonly size: number;
  constructor(size: number) {
    this.size = size;
  }
  push(value: number) {
    if (this.#values.length < this.size) this.#values.push(value);
    else this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % this.size;
  }
  /** The q-quantile (nearest rank) of the kept values, or null with none. */
  quantile(q: number): number | null {
    if (this.#values.length === 0) return null;
    // A typed array sorts numerically without a comparator: several times faster than Array#sort with one.
    const sorted = Float64Array.from(this.#values).sort();
    return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? null;
  }
}

const samplesKept = 512;

/** An arm's figures as the guards read them. */
export interface ArmSample {
  requests: number;
  errors: number;
  latencyP95Ms: number | null;
  ttftP95Ms: number | null;
}

/** An arm's figures as the admin routes and /metrics show them. */
export interface ArmFigures extends ArmSample {
  errorsByCode: Record<string, number>;
  latencyP50Ms: number | null;
  ttftP50Ms: number | null;
  tokensIn: number;
  tokensOut: number;
}

export class ArmStats {
  requests = 0;
  errors = 0;
  readonly errorsByCode = new Map<string, number>();
  tokensIn = 0;
  tokensOut = 0;
  readonly #latency = new Ring(samplesKept);
  readonly #ttft = new Ring(samplesKept);

  /** An answer; `failedWith`: the code of an upstream failure met on the way (a retry inside the arm answered). */
  succeeded(
    latencyMs: number,
    ttftMs: number | null,
    usage: { prompt_tokens: number; completion_tokens: number } | null,
    failedWith: string | null = null,
  ) {
    this.requests++;
    if (failedWith !== null) {
      this.errors++;
      this.errorsByCode.set(failedWith, (this.errorsByCode.get(failedWith) ?? 0) + 1);
    }
    this.#latency.push(latencyMs);
    if (ttftMs !== null) this.#ttft.push(ttftMs);
    if (usage) {
      this.tokensIn += usage.prompt_tokens;
      this.tokensOut += usage.completion_tokens;
    }
  }

  failed(code: string, latencyMs: number) {
    this.requests++;
    this.errors++;
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
    this.#latency.push(latencyMs);
  }

  sample(): ArmSample {
    return {
      requests: this.requests,
      errors: this.errors,
      latencyP95Ms: this.#latency.quantile(0.95),
      ttftP95Ms: this.#ttft.quantile(0.95),
    };
  }

  figures(): ArmFigures {
    return {
      ...this.sample(),
      errorsByCode: Object.fromEntries(this.errorsByCode),
      latencyP50Ms: this.#latency.quantile(0.5),
      ttftP50Ms: this.#ttft.quantile(0.5),
      tokensIn: this.tokensIn,
      tokensOut: this.tokensOut,
    };
  }
}
