// Fixed latency buckets that every instance shares, so that histograms from several instances add up and a
// cluster-wide percentile comes from the merged counts (a mean of per-instance p95s would not be a p95).
// Bucket i holds (growth^(i-1), growth^i] ms; 1.1 keeps a percentile within 10 % before interpolation. Pure.

const growth = 1.1;
const logGrowth = Math.log(growth);
/** The last bucket holds everything above growth^(size-1) ms (about 3.5 min). */
export const bucketCount = 130;

/** The bucket of a duration in ms: one log, no search. */
export function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  return Math.min(bucketCount - 1, Math.ceil(Math.log(ms) / logGrowth));
}

const upperOf = (bucket: number) => growth ** bucket;
const lowerOf = (bucket: number) => (bucket === 0 ? 0 : growth ** (bucket - 1));

/**
 * The q-quantile (nearest rank, interpolated inside its bucket) of counts by bucket, or null with none.
 * `counts` may be sparse; its keys are bucket indexes.
 */
export function quantileOf(counts: ReadonlyMap<number, number>, q: number): number | null {
  let total = 0;
  for (const n of counts.values()) total += n;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const bucket of [...counts.keys()].sort((a, b) => a - b)) {
    const n = counts.get(bucket) ?? 0;
    if (n <= 0) continue;
    if (seen + n >= rank) {
      const lower = lowerOf(bucket);
      // The top bucket has no upper edge: its lower edge is the honest answer.
      if (bucket === bucketCount - 1) return lower;
      return lower + ((rank - seen) / n) * (upperOf(bucket) - lower);
    }
    seen += n;
  }
  return null;
}
