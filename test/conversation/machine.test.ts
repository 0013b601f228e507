import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { type ConversationEmitted, conversationMachine, statedLimit } from '../../src/conversation/machine.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { baseInput, drained, held, reply, start, turn } from './harness.ts';

describe('conversation machine', () => {
  it('goes through visible states: persisting the user message before asking, the reply before answering', async () => {
    const c = start();
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.states).toEqual(['idle', 'persistingUser', 'awaitingReply', 'persistingReply', 'idle']);
    expect(c.calls).toEqual(['persistUser q1', 'complete chat Be brief.|q1', 'persistReply re: q1']);
    expect(c.emitted).toEqual([expect.objectContaining({ type: 'turn.completed', turnId: 't1' })]);
    expect(held(c)).toEqual(['q1:done', 're: q1:done']);
  });

  it('queues turns sent while one runs and processes them in order', async () => {
    const c = start();
    for (const n of [1, 2, 3]) c.actor.send(turn(n));
    await drained(c.actor);
    expect(c.emitted.map((e) => e.turnId)).toEqual(['t1', 't2', 't3']);
    expect(c.completions()).toEqual([
      'complete chat Be brief.|q1',
      'complete chat Be brief.|q1|re: q1|q2',
      'complete chat Be brief.|q1|re: q1|q2|re: q2|q3',
    ]);
  });

  it('refuses a message that cannot fit even alone, before storing anything', async () => {
    const c = start();
    c.actor.send(turn(1, 5000));
    await drained(c.actor);
    expect(c.calls).toEqual([]);
    expect(c.emitted).toEqual([expect.objectContaining({ type: 'turn.failed', code: 'context_overflow' })]);
    expect(c.actor.getSnapshot().context.messages).toEqual([]);
  });

  it('reads the limit a provider states when the prompt was too long', () => {
    expect(statedLimit("This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.")).toBe(8192);
    expect(statedLimit('prompt too long')).toBeNull();
  });
});

describe('conversation machine: store failures', () => {
  it('fails a turn whose user message cannot be stored, without asking the provider, and runs the next turn', async () => {
    const c = start(
      {},
      {
        persistUser: async (m) => {
          if (m.turnId === 't1') throw new Error('disk full');
        },
      },
    );
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.emitted).toEqual([expect.objectContaining({ type: 'turn.failed', turnId: 't1', code: 'internal_error' })]);
    expect(c.calls).toEqual(['persistUser q1']);
    expect(held(c)).toEqual([]);

    c.actor.send(turn(2));
    await drained(c.actor);
    expect(c.emitted.map((e) => `${e.type} ${e.turnId}`)).toEqual(['turn.failed t1', 'turn.completed t2']);
    expect(c.calls.slice(1)).toEqual(['persistUser q2', 'complete chat Be brief.|q2', 'persistReply re: q2']);
    expect(held(c)).toEqual(['q2:done', 're: q2:done']);
  });

  it('does not acknowledge a reply it could not store: the turn fails with the store code and its question stays pending', async () => {
    const c = start(
      {},
      {
        persistReply: async (m) => {
          if (m.turnId === 't1') throw new SwitchyardError('conversation_busy', 'another writer holds the conversation');
        },
      },
    );
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.emitted).toEqual([expect.objectContaining({ type: 'turn.failed', turnId: 't1', code: 'conversation_busy' })]);
    expect(c.calls).toEqual(['persistUser q1', 'complete chat Be brief.|q1', 'persistReply re: q1']);
    expect(held(c)).toEqual(['q1:pending']);

    // The next turn runs; the pending question is not part of its prompt.
    c.actor.send(turn(2));
    await drained(c.actor);
    expect(c.emitted.map((e) => `${e.type} ${e.turnId}`)).toEqual(['turn.failed t1', 'turn.completed t2']);
    expect(c.completions().at(-1)).toBe('complete chat Be brief.|q2');
    expect(held(c)).toEqual(['q1:pending', 'q2:done', 're: q2:done']);
  });

  it('fails the turn when the summary cannot be stored, and records the failure', async () => {
    const c = start(
      { strategy: 'summarize', messages: [] },
      {
        persistSummary: async () => {
          throw new Error('disk full');
        },
      },
    );
    // Two turns of 300 tokens, then a third that needs room: the oldest is folded into a summary.
    for (const n of [1, 2, 3]) c.actor.send(turn(n, 300));
    await drained(c.actor);
    expect(c.emitted.map((e) => `${e.type} ${e.turnId}`)).toEqual(['turn.completed t1', 'turn.completed t2', 'turn.failed t3']);
    expect(c.emitted.at(-1)).toMatchObject({ code: 'internal_error' });
    expect(c.calls.slice(-3)).toEqual(['summarize 0,1', 'persistSummary S through 1', 'failTurn t3 failed']);
    expect(c.completions()).toHaveLength(2);
    expect(held(c).at(-1)).toBe('q3:failed');
  });
});

describe('conversation machine: actors it is not given', () => {
  const collect = (machine: ReturnType<typeof conversationMachine.provide>) => {
    const actor = createActor(machine, { input: baseInput });
    const emitted: ConversationEmitted[] = [];
    actor.on('*', (e) => emitted.push(e));
    actor.start();
    actor.send(turn(1));
    return { actor, emitted };
  };
  it('fails a turn when no store is provided for the user message, rather than pretending it was stored', async () => {
    const { actor, emitted } = collect(
      conversationMachine.provide({
        actors: { complete: fromPromise(async () => reply('hi')), persistReply: fromPromise(async () => {}) },
      }),
    );
    await drained(actor);
    expect(emitted).toEqual([expect.objectContaining({ type: 'turn.failed', code: 'internal_error' })]);
  });

  it('fails a turn when no store is provided for the reply, rather than acknowledging it', async () => {
    const { actor, emitted } = collect(
      conversationMachine.provide({
        actors: { complete: fromPromise(async () => reply('hi')), persistUser: fromPromise(async () => {}) },
      }),
    );
    await drained(actor);
    expect(emitted).toEqual([expect.objectContaining({ type: 'turn.failed', code: 'internal_error' })]);
  });
});
