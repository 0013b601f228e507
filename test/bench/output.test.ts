import { describe, expect, it } from 'vitest';
import { addedMs, type Noise, noiseNote, resultsDir } from '../../bench/output.ts';

describe('bench output', () => {
  it('writes to a scratch folder ignored by git unless --record is given', () => {
    expect(resultsDir(['--quick'])).toMatchObject({ recorded: false, dir: expect.stringMatching(/\/\.tmp\/bench\/$/) });
    expect(resultsDir(['--quick', '--record'])).toMatchObject({ recorded: true, dir: expect.stringMatching(/\/bench\/results\/$/) });
  });

  it('never reports a negative added time: it shows 0 and keeps the measured value for the footnote', () => {
    const noise: Noise[] = [];
    expect(addedMs('added p99 one request at a time', 1.5, 3.974, noise, 3)).toBe(0);
    expect(addedMs('added p50 at 64 connections', 11, 6, noise)).toBe(5);
    expect(noise).toEqual([{ figure: 'added p99 one request at a time', measuredMs: -2.474 }]);
    expect(noiseNote(noise)).toContain('added p99 one request at a time -2.474 ms');
    expect(noiseNote([])).toBe('');
  });
});
