import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FitMessage, fitSliding, planFold } from '../../src/conversation/fit.ts';

/** A history of turns: each turn a user message and, except perhaps the newest, an assistant reply. */
const historyArb = fc
  .array(fc.tuple(fc.integer({ min: 4, max: 400 }), fc.integer({ min: 4, max: 400 })), { minLength: 1, maxLength: 30 })
  .map((turns) => {
    const history: FitMessage[] = [];
    turns.forEach(([user, reply], i) => {
      history.push({ seq: history.length, turnId: `t${i}`, tokens: user });
      if (i < turns.length - 1) history.push({ seq: history.length, turnId: `t${i}`, tokens: reply });
    });
    return history;
  });

describe('fitSliding', () => {
  it('after fitting, the prompt never exceeds the budget, keeps the newest user message and preserves order', () => {
    fc.assert(
      fc.property(
        historyArb,
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 10, max: 6000 }),
        (history, system, summary, budget) => {
          const result = fitSliding({ system, summary, history, budget });
          const newest = history.at(-1) as FitMessage;
          if (!result.ok) {
            // Only when the system prompt, summary and newest message alone are too large.
            expect(3 + system + summary + newest.tokens).toBeGreaterThan(budget);
            return;
          }
          expect(result.total).toBeLessThanOrEqual(budget);
          expect(result.keep.at(-1)).toBe(newest.seq);
          expect(result.keep).toEqual([...result.keep].sort((a, b) => a - b));
          const kept = history.filter((m) => result.keep.includes(m.seq));
          expect(result.total).toBe(3 + system + summary + kept.reduce((n, m) => n + m.tokens, 0));
          // Turns are kept or dropped whole, and what is kept is the most recent run of turns.
          const keptTurns = new Set(kept.map((m) => m.turnId));
          for (const m of history) expect(result.keep.includes(m.seq)).toBe(keptTurns.has(m.turnId));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps everything when everything fits', () => {
    const history = [
      { seq: 0, turnId: 'a', tokens: 10 },
      { seq: 1, turnId: 'a', tokens: 10 },
      { seq: 2, turnId: 'b', tokens: 10 },
    ];
    expect(fitSliding({ system: 5, summary: 0, history, budget: 100 })).toEqual({ ok: true, keep: [0, 1, 2], total: 38 });
  });

  it('drops the oldest turn first', () => {
    const history = [
      { seq: 0, turnId: 'a', tokens: 30 },
      { seq: 1, turnId: 'a', tokens: 30 },
      { seq: 2, turnId: 'b', tokens: 20 },
      { seq: 3, turnId: 'b', tokens: 20 },
      { seq: 4, turnId: 'c', tokens: 10 },
    ];
    expect(fitSliding({ system: 0, summary: 0, history, budget: 60 })).toEqual({ ok: true, keep: [2, 3, 4], total: 53 });
  });

  it('keeps a turn that fills the budget exactly', () => {
    expect(fitSliding({ system: 0, summary: 0, history: abc, budget: 113 })).toEqual({ ok: true, keep: [0, 1, 2, 3, 4], total: 113 });
  });

  it('fits a newest message that alone fills the budget exactly', () => {
    expect(fitSliding({ system: 0, summary: 0, history: abc.slice(4), budget: 13 })).toEqual({ ok: true, keep: [4], total: 13 });
  });

  it('says how many tokens the system prompt, summary and newest message need when they alone do not fit', () => {
    expect(fitSliding({ system: 80, summary: 20, history: abc, budget: 100 })).toEqual({ ok: false, needed: 113 });
  });
});

// Turns a (30 + 30), b (20 + 20) and the newest c (10): with the reply priming, 113 tokens in all.
const abc = [
  { seq: 0, turnId: 'a', tokens: 30 },
  { seq: 1, turnId: 'a', tokens: 30 },
  { seq: 2, turnId: 'b', tokens: 20 },
  { seq: 3, turnId: 'b', tokens: 20 },
  { seq: 4, turnId: 'c', tokens: 10 },
];

describe('planFold', () => {
  it('folds the oldest turns until the rest plus a summary fits, never the newest turn', () => {
    fc.assert(
      fc.property(historyArb, fc.integer({ min: 0, max: 200 }), fc.integer({ min: 100, max: 6000 }), (history, system, budget) => {
        const fold = planFold({ system, summary: 0, history, budget }, 50);
        const newest = history.at(-1) as FitMessage;
        expect(fold.includes(newest.seq)).toBe(false);
        expect(fold).toEqual(history.slice(0, fold.length).map((m) => m.seq));
        const rest = history.filter((m) => !fold.includes(m.seq));
        const total = 3 + system + rest.reduce((n, m) => n + m.tokens, 0);
        if (fold.length === 0) return;
        // Folding stopped as soon as the rest fits with a summary, or when only the newest turn was left.
        const onlyNewest = rest.every((m) => m.turnId === newest.turnId);
        expect(total + 50 <= budget || onlyNewest).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('planFold: examples', () => {
  it('folds nothing when everything fits, to the last token', () => {
    expect(planFold({ system: 0, summary: 0, history: abc, budget: 113 }, 50)).toEqual([]);
  });

  it('folds the oldest turn when one token is missing, counting the summary it adds', () => {
    // 113 + a summary of 50 − turn a (60) = 103.
    expect(planFold({ system: 0, summary: 0, history: abc, budget: 112 }, 50)).toEqual([0, 1]);
  });

  it('stops folding as soon as the rest fits exactly', () => {
    expect(planFold({ system: 0, summary: 0, history: abc, budget: 103 }, 50)).toEqual([0, 1]);
    expect(planFold({ system: 0, summary: 0, history: abc, budget: 102 }, 50)).toEqual([0, 1, 2, 3]);
  });

  it('replaces the summary there is with the new one: only the difference is added', () => {
    // 3 + 30 + 110 = 143; the new summary adds 50 − 30; folding a leaves 103.
    expect(planFold({ system: 0, summary: 30, history: abc, budget: 140 }, 50)).toEqual([0, 1]);
  });

  it('never folds the newest turn, even when it alone does not fit', () => {
    expect(planFold({ system: 0, summary: 0, history: abc.slice(4), budget: 5 }, 50)).toEqual([]);
  });
});
