// An arm's figures as counters that add up across instances: what one instance counted since its last flush to
// Redis (a Tally), written as HINCRBY fields of one hash per split, and read back from the merged hash as the
// cluster's figures. Latency and TTFT go into the fixed buckets of histogram.ts. Pure.

import { bucketOf, quantileOf } from './histogram.ts';
import type { Outcome } from './rollout.ts';
import type { ArmFigures } from './stats.ts';

// Field names: `<arm>|<what>`. Arm names are config names or `baseline`/`canary`, never holding a `|`.
const sep = '|';

/** What one instance counted for one arm since it last wrote to Redis. */
export class Tally {
  requests = 0;
  errors = 0;
  tokensIn = 0;
  tokensOut = 0;
  readonly errorsByCode = new Map<string, number>();
  readonly latency = new Map<number, number>();
  readonly ttft = new Map<number, number>();

  record(outcome: Outcome) {
    this.requests++;
    const code = outcome.ok ? outcome.failedWith : outcome.code;
    if (code !== null) {
      this.errors++;
      this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
    }
    add(this.latency, bucketOf(outcome.latencyMs), 1);
    if (outcome.ok) {
      if (outcome.ttftMs !== null) add(this.ttft, bucketOf(outcome.ttftMs), 1);
      if (outcome.usage) {
        this.tokensIn += outcome.usage.prompt_tokens;
        this.tokensOut += outcome.usage.completion_tokens;
      }
    }
  }

  get empty() {
    return this.requests === 0;
  }

  /** The HINCRBY arguments (field, increment, …) of this arm's counts; only fields that moved. */
  fields(arm: string): (string | number)[] {
    const out: (string | number)[] = [`${arm}${sep}r`, this.requests];
    const put = (what: string, n: number) => {
      if (n !== 0) out.push(`${arm}${sep}${what}`, n);
    };
    put('e', this.errors);
    put('i', this.tokensIn);
    put('o', this.tokensOut);
    for (const [code, n] of this.errorsByCode) put(`c:${code}`, n);
    for (const [b, n] of this.latency) put(`l:${b}`, n);
    for (const [b, n] of this.ttft) put(`t:${b}`, n);
    return out;
  }
}

function add<K>(map: Map<K, number>, key: K, n: number) {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** The figures of each of `arms` in a merged hash (HGETALL's flat reply); an arm nobody counted has zeros. */
export function figuresOf(reply: readonly string[], arms: readonly string[]): Map<string, ArmFigures> {
  const tallies = new Map(arms.map((a) => [a, new Tally()]));
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const field = reply[i] ?? '';
    const n = Number(reply[i + 1]);
    const at = field.indexOf(sep);
    const t = tallies.get(field.slice(0, at));
    if (at < 0 || !t || !Number.isFinite(n)) continue;
    const what = field.slice(at + 1);
    if (what === 'r') t.requests += n;
    else if (what === 'e') t.errors += n;
    else if (what === 'i') t.tokensIn += n;
    else if (what === 'o') t.tokensOut += n;
    else if (what.startsWith('c:')) add(t.errorsByCode, what.slice(2), n);
    else if (what.startsWith('l:')) add(t.latency, Number(what.slice(2)), n);
    else if (what.startsWith('t:')) add(t.ttft, Number(what.slice(2)), n);
  }
  return new Map([...tallies].map(([arm, t]) => [arm, figuresOfTally(t)]));
}

export function figuresOfTally(t: Tally): ArmFigures {
  return {
    requests: t.requests,
    errors: t.errors,
    latencyP95Ms: quantileOf(t.latency, 0.95),
    ttftP95Ms: quantileOf(t.ttft, 0.95),
    errorsByCode: Object.fromEntries(t.errorsByCode),
    latencyP50Ms: quantileOf(t.latency, 0.5),
    ttftP50Ms: quantileOf(t.ttft, 0.5),
    tokensIn: t.tokensIn,
    tokensOut: t.tokensOut,
  };
}
