// Where a bench run writes, and how it reports "added" time. A run is a scratch run unless `--record` asks
// for the committed results, so a quick try never overwrites the figures the README quotes.

import { fileURLToPath } from 'node:url';

/** bench/results/ with `--record`; otherwise .tmp/bench/ (ignored by git). */
export function resultsDir(argv: readonly string[]): { dir: string; recorded: boolean } {
  const recorded = argv.includes('--record');
  const dir = recorded ? new URL('./results/', import.meta.url) : new URL('../.tmp/bench/', import.meta.url);
  return { dir: fileURLToPath(dir), recorded };
}

/** A negative difference measured for an "added" figure, kept to explain the 0 shown in its place. */
export interface Noise {
  figure: string;
  measuredMs: number;
}

/**
 * Time Switchyard adds over the direct call: `through - direct`, rounded. A gateway in front of the mock cannot
 * be faster than the mock itself, so a negative difference is noise between two separately measured runs: it is
 * reported as 0 and the measured value is kept in `noise` for the footnote.
 */
export function addedMs(figure: string, through: number, direct: number, noise: Noise[], digits = 2): number {
  const scale = 10 ** digits;
  const measured = Math.round((through - direct) * scale) / scale;
  if (measured >= 0) return measured;
  noise.push({ figure, measuredMs: measured });
  return 0;
}

/** The footnote for figures shown as 0 because they were measured below zero; empty when there were none. */
export function noiseNote(noise: readonly Noise[]): string {
  if (noise.length === 0) return '';
  const list = noise.map((n) => `${n.figure} ${n.measuredMs} ms`).join('; ');
  return `Added figures measured below zero are shown as 0: the gateway cannot answer faster than the upstream it calls, so a negative difference is the noise between two runs measured one after the other (${list}).`;
}

/** The value at fraction `p` of `values` (nearest rank); NaN for none. */
export const percentile = (values: number[], p: number) => {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
};

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
