// Drives the real conversation machine with store, completion and summary actors that succeed at once unless a
// test overrides one, and records what each was asked, the states it went through and what it emitted.

import { createActor, fromPromise, waitFor } from 'xstate';
import {
  type ChatMessage,
  type ConversationEmitted,
  type ConversationInput,
  type ConversationMessage,
  conversationMachine,
  type Reply,
  type Summary,
} from '../../src/conversation/machine.ts';

export const baseInput: ConversationInput = {
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

export interface CompleteInput {
  model: string;
  messages: ChatMessage[];
  maxTokens: number | null;
}

/** Replacements for the machine's actors; each runs after its call was recorded. */
export interface Fakes {
  persistUser?: (message: ConversationMessage) => Promise<void>;
  persistReply?: (message: ConversationMessage) => Promise<void>;
  persistSummary?: (summary: Summary) => Promise<void>;
  failTurn?: () => Promise<void>;
  complete?: (input: CompleteInput) => Promise<Reply>;
  summarize?: (messages: ConversationMessage[]) => Promise<{ text: string; tokens: number }>;
}

/**
 * Lets timers run between actor calls, as real I/O would: a machine that loops between states on promise
 * callbacks alone would otherwise starve `waitFor`'s timeout, and a test would hang instead of failing.
 */
const io = () => new Promise<void>((resolve) => setImmediate(resolve));

export const reply = (content: string): Reply => ({
  content,
  tokens: 8,
  finishReason: 'stop',
  usage: null,
  route: { model: 'm', deployments: ['d'], attempts: [{ deployment: 'd', outcome: 'ok', latencyMs: 1 }], continued: false },
});

/** The machine started with `over` as input; `calls` reads like a log of the actors' work. */
export function start(over: Partial<ConversationInput> = {}, fakes: Fakes = {}) {
  const calls: string[] = [];
  const machine = conversationMachine.provide({
    actors: {
      restartTurn: fromPromise(async ({ input }) => {
        await io();
        calls.push(`restartTurn ${input.turnId}`);
      }),
      persistUser: fromPromise(async ({ input }) => {
        await io();
        calls.push(`persistUser ${input.messages.map((m) => m.content).join(',')}`);
        for (const m of input.messages) await fakes.persistUser?.(m);
      }),
      persistReply: fromPromise(async ({ input }) => {
        await io();
        calls.push(`persistReply ${input.message.content}`);
        await fakes.persistReply?.(input.message);
      }),
      persistSummary: fromPromise(async ({ input }) => {
        await io();
        calls.push(`persistSummary ${input.summary.text} through ${input.summary.throughSeq}`);
        await fakes.persistSummary?.(input.summary);
      }),
      failTurn: fromPromise(async ({ input }) => {
        await io();
        calls.push(`failTurn ${input.turnId} ${input.status}${input.partial ? ` keeping "${input.partial.content}"` : ''}`);
        await fakes.failTurn?.();
      }),
      complete: fromPromise(async ({ input }) => {
        await io();
        calls.push(`complete ${input.model} ${input.messages.map((m) => m.content).join('|')}`);
        return fakes.complete ? fakes.complete(input) : reply(`re: ${input.messages.at(-1)?.content}`);
      }),
      summarize: fromPromise(async ({ input }) => {
        await io();
        calls.push(`summarize ${input.messages.map((m) => m.seq).join(',')}`);
        return fakes.summarize ? fakes.summarize(input.messages) : { text: 'S', tokens: 40 };
      }),
    },
  });
  const actor = createActor(machine, { input: { ...baseInput, ...over } });
  const states: string[] = [];
  const emitted: ConversationEmitted[] = [];
  actor.subscribe((s) => {
    if (states.at(-1) !== s.value) states.push(String(s.value));
  });
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  return { actor, calls, states, emitted, completions: () => calls.filter((c) => c.startsWith('complete ')) };
}

export type Started = ReturnType<typeof start>;

export const turn = (n: number, tokens = 12) => ({
  type: 'turn.requested' as const,
  turn: { turnId: `t${n}`, content: `q${n}`, tokens, maxTokens: null, idempotencyKey: null, resumed: false },
});

/** Waits until the mailbox is empty and no turn runs. */
export const drained = (actor: Started['actor']) =>
  waitFor(actor, (s) => s.value === 'idle' && s.context.queue.length === 0 && s.context.current === null, { timeout: 2000 });

/** `n` answered turns h0…h(n-1), each a question and an answer of `tokens` tokens, stored before the actor starts. */
export function history(n: number, tokens: number): ConversationMessage[] {
  return Array.from({ length: n }, (_, i) => [
    { seq: 2 * i, role: 'user' as const, content: `h${i}q`, tokens, turnId: `h${i}`, status: 'done' as const, idempotencyKey: null },
    {
      seq: 2 * i + 1,
      role: 'assistant' as const,
      content: `h${i}a`,
      tokens,
      turnId: `h${i}`,
      status: 'done' as const,
      idempotencyKey: null,
    },
  ]).flat();
}

/** What the machine holds of its messages, as `content:status`. */
export const held = (c: Started) => c.actor.getSnapshot().context.messages.map((m) => `${m.content}:${m.status}`);
