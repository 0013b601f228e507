import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, waitFor } from 'xstate';
import {
  type ConversationEmitted,
  type ConversationInput,
  conversationMachine,
  type Reply,
  statedLimit,
} from '../../src/conversation/machine.ts';

const input: ConversationInput = {
  id: 'c1',
  model: { model: 'chat', contextWindow: 1000 },
  fallback: null,
  system: { content: 'Be brief.', tokens: 10 },
  strategy: 'sliding',
  reserveTokens: 100,
  summaryMaxTokens: 50,
  summary: null,
  messages: [],
};

/** The machine with store and provider actors that succeed at once, recording what they were asked. */
function start(over: Partial<ConversationInput> = {}, complete?: () => Promise<Reply>) {
  const calls: string[] = [];
  const reply = (content: string): Reply => ({
    content,
    tokens: 8,
    finishReason: 'stop',
    usage: null,
    route: { model: 'm', deployments: ['d'], attempts: [{ deployment: 'd', outcome: 'ok', latencyMs: 1 }], continued: false },
  });
  const machine = conversationMachine.provide({
    actors: {
      persistUser: fromPromise(async ({ input }) => void calls.push(`persistUser ${input.message.content}`)),
      persistReply: fromPromise(async ({ input }) => void calls.push(`persistReply ${input.message.content}`)),
      complete: fromPromise(async ({ input }) => {
        calls.push(`complete ${input.messages.map((m) => m.content).join('|')}`);
        return complete ? complete() : reply(`re: ${input.messages.at(-1)?.content}`);
      }),
    },
  });
  const actor = createActor(machine, { input: { ...input, ...over } });
  const states: string[] = [];
  const emitted: ConversationEmitted[] = [];
  actor.subscribe((s) => {
    if (states.at(-1) !== s.value) states.push(String(s.value));
  });
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  return { actor, calls, states, emitted };
}

const turn = (n: number, tokens = 12) => ({
  type: 'turn.requested' as const,
  turn: { turnId: `t${n}`, content: `q${n}`, tokens, maxTokens: null, idempotencyKey: null, resumed: false },
});
/** Waits until the mailbox is empty and no turn runs. */
const drained = (actor: ReturnType<typeof start>['actor']) =>
  waitFor(actor, (s) => s.value === 'idle' && s.context.queue.length === 0 && s.context.current === null, { timeout: 2000 });

describe('conversation machine', () => {
  it('goes through visible states: persisting the user message before asking, the reply before answering', async () => {
    const c = start();
    c.actor.send(turn(1));
    await drained(c.actor);
    expect(c.states).toEqual(['idle', 'persistingUser', 'awaitingReply', 'persistingReply', 'idle']);
    expect(c.calls).toEqual(['persistUser q1', 'complete Be brief.|q1', 'persistReply re: q1']);
    expect(c.emitted).toEqual([expect.objectContaining({ type: 'turn.completed', turnId: 't1' })]);
  });

  it('queues turns sent while one runs and processes them in order', async () => {
    const c = start();
    for (const n of [1, 2, 3]) c.actor.send(turn(n));
    await drained(c.actor);
    expect(c.emitted.map((e) => e.turnId)).toEqual(['t1', 't2', 't3']);
    expect(c.calls.filter((x) => x.startsWith('complete'))).toEqual([
      'complete Be brief.|q1',
      'complete Be brief.|q1|re: q1|q2',
      'complete Be brief.|q1|re: q1|q2|re: q2|q3',
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

  it('reads the limit a provider states when the prompt was too long', () => {
    expect(statedLimit("This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.")).toBe(8192);
    expect(statedLimit('prompt too long')).toBeNull();
  });
});
