import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { type ConversationEmitted, conversationMachine, statedLimit } from '../../src/conversation/machine.ts';
import { BrokenReply } from '../../src/conversation/turn.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { baseInput, drained, held, history, reply, start, turn } from './harness.ts';

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
    expect(c.emitted).toEqual([
      expect.objectContaining({ type: 'turn.failed', error: expect.objectContaining({ code: 'context_overflow', status: 413 }) }),
    ]);
    expect(c.actor.getSnapshot().context.messages).toEqual([]);
  });

  it('takes a message that fills the window exactly with the system prompt, and refuses one token more', async () => {
    // 3 + 10 + 887 = 900, the budget.
    const c = start();
    c.actor.send(turn(1, 888));
    await drained(c.actor);
    expect(c.calls).toEqual([]);
    expect(c.emitted).toEqual([
      expect.objectContaining({ type: 'turn.failed', error: expect.objectContaining({ code: 'context_overflow' }) }),
    ]);
    c.actor.send(turn(2, 887));
    await drained(c.actor);
    expect(c.completions()).toEqual(['complete chat Be brief.|q2']);
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
    expect(c.emitted).toEqual([
      expect.objectContaining({ type: 'turn.failed', turnId: 't1', error: expect.objectContaining({ code: 'internal_error' }) }),
    ]);
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
    expect(c.emitted).toEqual([
      expect.objectContaining({ type: 'turn.failed', turnId: 't1', error: expect.objectContaining({ code: 'conversation_busy' }) }),
    ]);
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
          throw new SwitchyardError('conversation_busy', 'another writer holds the conversation');
        },
      },
    );
    // Two turns of 300 tokens, then a third that needs room: the oldest is folded into a summary.
    for (const n of [1, 2, 3]) c.actor.send(turn(n, 300));
    await drained(c.actor);
    expect(c.emitted.map((e) => `${e.type} ${e.turnId}`)).toEqual(['turn.completed t1', 'turn.completed t2', 'turn.failed t3']);
    expect(c.emitted.at(-1)).toMatchObject({ error: expect.objectContaining({ code: 'conversation_busy' }) });
    expect(c.calls.slice(-3)).toEqual(['summarize 0,1', 'persistSummary S through 1', 'failTurn t3 failed']);
    expect(c.completions()).toHaveLength(2);
    expect(held(c).at(-1)).toBe('q3:failed');
  });
});

describe('conversation machine: a store that fails while failing a turn', () => {
  it('still reports the failure and moves on to the next turn', async () => {
    let failures = 0;
    const c = start(
      {},
      {
        complete: async (i) =>
          failures++ === 0
            ? Promise.reject(new SwitchyardError('provider_unavailable', 'down'))
            : reply(`re: ${i.messages.at(-1)?.content}`),
        failTurn: async () => {
          throw new Error('disk full');
        },
      },
    );
    c.actor.send(turn(1));
    c.actor.send(turn(2));
    await drained(c.actor);
    expect(c.emitted.map((e) => `${e.type} ${e.turnId}`)).toEqual(['turn.failed t1', 'turn.completed t2']);
    expect(c.emitted[0]).toMatchObject({ error: expect.objectContaining({ code: 'provider_unavailable' }) });
    expect(held(c)).toEqual(['q1:failed', 'q2:done', 're: q2:done']);
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
    expect(emitted).toEqual([expect.objectContaining({ type: 'turn.failed', error: expect.objectContaining({ code: 'internal_error' }) })]);
  });

  it('fails a turn when no store is provided for the reply, rather than acknowledging it', async () => {
    const { actor, emitted } = collect(
      conversationMachine.provide({
        actors: { complete: fromPromise(async () => reply('hi')), persistUser: fromPromise(async () => {}) },
      }),
    );
    await drained(actor);
    expect(emitted).toEqual([expect.objectContaining({ type: 'turn.failed', error: expect.objectContaining({ code: 'internal_error' }) })]);
  });
});

describe('conversation machine: resumed, interrupted and numbered turns', () => {
  it('runs a resumed turn without storing its question again', async () => {
    const pending = {
      seq: 0,
      role: 'user' as const,
      content: 'q1',
      tokens: 12,
      turnId: 't1',
      status: 'pending' as const,
      idempotencyKey: null,
    };
    const c = start({ messages: [pending] });
    c.actor.send({ ...turn(1), turn: { ...turn(1).turn, resumed: true } });
    await drained(c.actor);
    // Its question is stored already; whatever an earlier attempt stored of its reply is dropped first.
    expect(c.calls).toEqual(['restartTurn t1', 'complete chat Be brief.|q1', 'persistReply re: q1']);
    expect(held(c)).toEqual(['q1:done', 're: q1:done']);
    expect(c.actor.getSnapshot().context.messages.map((m) => m.seq)).toEqual([0, 1]);
  });

  it('asks for the reply length the turn sets, and keeps that much room for it', async () => {
    const asked: (number | null)[] = [];
    // 1000 − 900 leaves 100: the question (25) and not the earlier turn of 100.
    const c = start(
      { messages: history(1, 50) },
      {
        complete: async (i) => {
          asked.push(i.maxTokens);
          return reply('ok');
        },
      },
    );
    c.actor.send({ ...turn(1), turn: { ...turn(1).turn, maxTokens: 900 } });
    await drained(c.actor);
    expect(asked).toEqual([900]);
    expect(c.completions()).toEqual(['complete chat Be brief.|q1']);
  });

  it('numbers new messages after the stored ones and after what the summary covers', async () => {
    const c = start({ summary: { text: 'S', tokens: 5, throughSeq: 7 }, messages: history(5, 10).slice(8) });
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.actor.getSnapshot().context.messages.map((m) => m.seq)).toEqual([8, 9, 10, 11]);
    const summarizedAll = start({ summary: { text: 'S', tokens: 5, throughSeq: 11 }, messages: [] });
    summarizedAll.actor.send(turn(1));
    await drained(summarizedAll.actor);
    expect(summarizedAll.actor.getSnapshot().context.messages.map((m) => m.seq)).toEqual([12, 13]);
  });

  it('keeps the part of a reply that streamed before the stream broke, as interrupted', async () => {
    const broken = new BrokenReply(new SwitchyardError('stream_interrupted', 'the stream broke'), { content: 'Hel', tokens: 2 });
    const c = start({}, { complete: async () => Promise.reject(broken) });
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.calls.at(-1)).toBe('failTurn t1 failed keeping "Hel"');
    expect(held(c)).toEqual(['q1:failed', 'Hel:interrupted']);
    expect(c.actor.getSnapshot().context).toMatchObject({ nextSeq: 2 });
    expect(c.emitted).toEqual([
      expect.objectContaining({ type: 'turn.failed', error: expect.objectContaining({ code: 'stream_interrupted', status: 502 }) }),
    ]);
  });

  it('marks a turn its caller abandoned as interrupted, not failed', async () => {
    const c = start({}, { complete: async () => Promise.reject(new SwitchyardError('aborted', 'the client went away')) });
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.calls.at(-1)).toBe('failTurn t1 interrupted');
    expect(held(c)).toEqual(['q1:interrupted']);
    expect(c.actor.getSnapshot().context.nextSeq).toBe(1);
  });
});
