// What an instance takes from Redis about a rollout's arms and state: hostile or broken values are ignored, never
// thrown, and never reach a key name.

import { describe, expect, it } from 'vitest';
import { parseShared } from '../../src/rollout/cluster.ts';
import { figuresOf } from '../../src/rollout/tally.ts';

describe('shared rollout state read from Redis', () => {
  it('takes a well-formed state with its epoch', () => {
    expect(parseShared(JSON.stringify({ phase: 'ramping', step: 1, reason: null, epoch: 'sy-1.k2.3' }))).toEqual({
      phase: 'ramping',
      step: 1,
      reason: null,
      epoch: 'sy-1.k2.3',
    });
  });

  it('follows a state whose epoch is hostile, without the epoch', () => {
    for (const epoch of ['{other}', 'a b', '', 'x'.repeat(201), 7, { deep: 1 }, '../x', 'a\nb']) {
      const parsed = parseShared(JSON.stringify({ phase: 'paused', step: 0, reason: null, epoch }));
      expect(parsed).toEqual({ phase: 'paused', step: 0, reason: null });
    }
  });

  it('ignores what is not a state', () => {
    for (const text of ['not json', '[]', 'null', '{"phase":"exploded","step":0}', '{"phase":"ramping"}', 42, null, '{'.repeat(10_000)]) {
      expect(parseShared(text)).toBeNull();
    }
  });
});

describe('merged arm figures read from Redis', () => {
  it('ignores fields of unknown arms, unknown kinds and values that are not numbers', () => {
    const reply = [
      'canary|r',
      '4',
      'canary|e',
      '1',
      'canary|c:provider_error',
      '1',
      'other|r',
      '99',
      'canary|zz',
      '5',
      'canary|i',
      'NaN',
      'nofield',
      '3',
    ];
    const figures = figuresOf(reply, ['baseline', 'canary']);
    expect(figures.get('canary')).toMatchObject({ requests: 4, errors: 1, errorsByCode: { provider_error: 1 }, tokensIn: 0 });
    expect(figures.get('baseline')).toMatchObject({ requests: 0, latencyP95Ms: null });
    expect(figures.has('other')).toBe(false);
  });
});
