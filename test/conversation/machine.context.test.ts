// The conversation machine keeping a prompt inside its window: summaries, re-fitting to the window a provider
// states, and moving a turn to the context fallback model. Budget arithmetic: window − reserve (100), and a
// prompt costs 3 tokens of reply priming plus its messages (system 10, each new question 12).

import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.ts';
import { drained, held, history, reply, start, turn } from './harness.ts';

const tooLong = (message = 'prompt too long') => new SwitchyardError('context_length_exceeded', message, { status: 400 });
const stated = (limit: number) =>
  tooLong(`This model's maximum context length is ${limit} tokens. However, your messages resulted in 900 tokens.`);

describe('conversation machine: summarizing', () => {
  // Four answered turns of 2 × 200 tokens do not fit 900 with a question: the two oldest are folded.
  const long = { strategy: 'summarize' as const, messages: history(4, 200) };

  it('folds the oldest turns into a summary, stores it, then asks with the summary and the rest', async () => {
    const c = start(long);
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.states).toEqual(['idle', 'persistingUser', 'summarizing', 'savingSummary', 'awaitingReply', 'persistingReply', 'idle']);
    expect(c.calls.slice(0, 3)).toEqual(['persistUser q1', 'summarize 0,1,2,3', 'persistSummary S through 3']);
    expect(c.completions()).toEqual(['complete chat Be brief.|Summary of the conversation so far:\nS|h2q|h2a|h3q|h3a|q1']);
    const context = c.actor.getSnapshot().context;
    expect(context.summary).toEqual({ text: 'S', tokens: 40, throughSeq: 3 });
    expect(held(c)).toEqual(['h2q:done', 'h2a:done', 'h3q:done', 'h3a:done', 'q1:done', 're: q1:done']);
    expect(context.summaryFailures).toBe(0);
    expect(c.emitted.map((e) => e.type)).toEqual(['turn.completed']);
  });

  it('answers with the sliding window when summarizing fails, and counts each failed turn', async () => {
    const c = start(long, {
      summarize: async () => {
        throw new SwitchyardError('provider_unavailable', 'the summarizer is down');
      },
    });
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.emitted.map((e) => `${e.type} ${e.turnId}`)).toEqual(['turn.completed t1']);
    // 3 + 10 + 12 + two turns of 400 = 825 fits 900; a third turn would not.
    expect(c.completions()).toEqual(['complete chat Be brief.|h2q|h2a|h3q|h3a|q1']);
    expect(c.calls.some((x) => x.startsWith('persistSummary'))).toBe(false);
    expect(c.actor.getSnapshot().context.summary).toBeNull();
    expect(c.actor.getSnapshot().context.summaryFailures).toBe(1);

    c.actor.send(turn(2));
    await drained(c.actor);
    expect(c.calls.filter((x) => x.startsWith('summarize'))).toHaveLength(2);
    expect(c.actor.getSnapshot().context.summaryFailures).toBe(2);
  });

  it('fits the rest with the sliding window when the summary came out longer than asked', async () => {
    const c = start(long, { summarize: async () => ({ text: 'S', tokens: 450 }) });
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.calls.filter((x) => x.startsWith('summarize'))).toEqual(['summarize 0,1,2,3']);
    // 3 + 10 + 450 + 12 = 475: one more turn of 400 fits 900, two do not.
    expect(c.completions()).toEqual(['complete chat Be brief.|Summary of the conversation so far:\nS|h3q|h3a|q1']);
  });

  it('does not summarize what already fits', async () => {
    const c = start({ strategy: 'summarize', messages: history(1, 200) });
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.calls).toEqual(['persistUser q1', 'complete chat Be brief.|h0q|h0a|q1', 'persistReply re: q1']);
  });
});

describe('conversation machine: context_length_exceeded', () => {
  // Four answered turns of 2 × 100 tokens: 3 + 10 + 800 + 12 = 825 fits the configured budget of 900.
  const four = { messages: history(4, 100) };

  it('re-fits once to the window the provider states, and keeps that window for later turns', async () => {
    let failures = 0;
    const c = start(four, {
      complete: async (i) => (failures++ === 0 ? Promise.reject(stated(500)) : reply(`re: ${i.messages.at(-1)?.content}`)),
    });
    c.actor.send(turn(1));
    await drained(c.actor);
    // A window of 500 leaves 400: the question and one earlier turn (25 + 200), not two.
    expect(c.completions()).toEqual(['complete chat Be brief.|h0q|h0a|h1q|h1a|h2q|h2a|h3q|h3a|q1', 'complete chat Be brief.|h3q|h3a|q1']);
    expect(c.emitted.map((e) => `${e.type} ${e.turnId}`)).toEqual(['turn.completed t1']);

    c.actor.send(turn(2));
    await drained(c.actor);
    expect(c.completions().at(-1)).toBe('complete chat Be brief.|h3q|h3a|q1|re: q1|q2');
  });

  it('re-fits to three quarters of the budget when the provider states no window', async () => {
    let failures = 0;
    const c = start(four, { complete: async () => (failures++ === 0 ? Promise.reject(tooLong()) : reply('ok')) });
    c.actor.send(turn(1));
    await drained(c.actor);
    // 675 tokens: the question and three earlier turns (25 + 600).
    expect(c.completions().at(-1)).toBe('complete chat Be brief.|h1q|h1a|h2q|h2a|h3q|h3a|q1');
    expect(c.emitted.map((e) => e.type)).toEqual(['turn.completed']);
  });

  it('re-fits only once: a second refusal fails the turn with the provider code', async () => {
    const c = start(four, { complete: async () => Promise.reject(stated(500)) });
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.completions()).toHaveLength(2);
    expect(c.emitted).toEqual([
      expect.objectContaining({
        type: 'turn.failed',
        turnId: 't1',
        error: expect.objectContaining({ code: 'context_length_exceeded', status: 400 }),
      }),
    ]);
    expect(c.calls.at(-1)).toBe('failTurn t1 failed');
    // Only the failed turn's message is marked: the answered history stays as it was.
    expect(held(c)).toEqual([...history(4, 100).map((m) => `${m.content}:done`), 'q1:failed']);
  });
});

describe('conversation machine: context fallback', () => {
  // The model leaves 200 tokens (300 − 100), the fallback 1900.
  const small = { model: { model: 'chat', contextWindow: 300 }, fallback: { model: 'big', contextWindow: 2000 } };
  const models = (c: ReturnType<typeof start>) => c.completions().map((x) => x.split(' ')[1]);

  it('moves a turn that cannot fit its model to the fallback, and the next turn back to the model', async () => {
    const c = start(small);
    c.actor.send(turn(1, 250));
    await drained(c.actor);
    c.actor.send(turn(2));
    await drained(c.actor);
    expect(models(c)).toEqual(['big', 'chat']);
    // The fallback's window holds everything; back on the model, the large turn is dropped.
    expect(c.completions()).toEqual(['complete big Be brief.|q1', 'complete chat Be brief.|q2']);
    expect(c.emitted.map((e) => e.type)).toEqual(['turn.completed', 'turn.completed']);
  });

  it('fails a turn that no longer fits the window a provider states, when there is no fallback', async () => {
    // A stated window of 110 leaves 10 tokens: not even the question (25) fits.
    const c = start({ messages: history(1, 50) }, { complete: async () => Promise.reject(stated(110)) });
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.completions()).toHaveLength(1);
    expect(c.emitted).toEqual([
      expect.objectContaining({ type: 'turn.failed', error: expect.objectContaining({ code: 'context_overflow' }) }),
    ]);
    expect(c.calls.at(-1)).toBe('failTurn t1 failed');
    expect(held(c).at(-1)).toBe('q1:failed');
  });

  it('fails a turn whose prompt fits neither the model nor the fallback', async () => {
    // The stored summary alone is larger than the fallback leaves.
    const c = start({ ...small, summary: { text: 'S', tokens: 1900, throughSeq: 3 } });
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.completions()).toEqual([]);
    expect(c.emitted).toEqual([
      expect.objectContaining({ type: 'turn.failed', error: expect.objectContaining({ code: 'context_overflow' }) }),
    ]);
    expect(held(c)).toEqual(['q1:failed']);
  });

  it('moves to the fallback after the provider refused the re-fitted prompt too', async () => {
    let failures = 0;
    const c = start(
      { ...small, messages: history(1, 50) },
      { complete: async () => (failures++ < 2 ? Promise.reject(tooLong()) : reply('ok')) },
    );
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(models(c)).toEqual(['chat', 'chat', 'big']);
    // On the fallback the prompt is fitted to its own full budget again.
    expect(c.completions().at(-1)).toBe('complete big Be brief.|h0q|h0a|q1');
    expect(c.emitted.map((e) => e.type)).toEqual(['turn.completed']);
  });

  it('moves to the fallback at once when an attempt reports context_overflow', async () => {
    let failures = 0;
    const overflow = new SwitchyardError('context_overflow', 'the prompt does not fit', { status: 413 });
    const c = start(small, { complete: async () => (failures++ === 0 ? Promise.reject(overflow) : reply('ok')) });
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(models(c)).toEqual(['chat', 'big']);
  });

  it('fails when the fallback refuses as well, without trying it twice', async () => {
    const c = start(small, { complete: async () => Promise.reject(tooLong()) });
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(models(c)).toEqual(['chat', 'chat', 'big']);
    expect(c.emitted).toEqual([
      expect.objectContaining({ type: 'turn.failed', error: expect.objectContaining({ code: 'context_length_exceeded' }) }),
    ]);
  });
});
