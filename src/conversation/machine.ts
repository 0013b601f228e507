// One conversation's statechart. Turns queue in its mailbox and run one at a time:
// checking → persistingUser → fitting (→ summarizing) → awaitingReply → persistingReply → idle.
// Pure: token counts arrive with the messages, and store writes, completions and summaries are actors provided
// by src/conversation/actor.ts (their defaults, actions and guards are in setup.machine.ts). Outcomes leave as
// emitted events (turn.completed, turn.failed).

import { assign, emit } from 'xstate';
import { SwitchyardError } from '../errors.ts';
import { fitSliding, planFold, promptTokens } from './fit.ts';
import { promptMessages } from './prompt.ts';
import { conversationSetup } from './setup.machine.ts';
import {
  failedStatus,
  failureOf,
  fitInput,
  inputMessages,
  largestBudget,
  partialMessage,
  type Reply,
  replyMessage,
  restartedMessages,
  type Summary,
  statedLimit,
} from './turn.ts';

export type { ChatMessage } from './prompt.ts';
export { promptMessages } from './prompt.ts';
export type { ConversationEmitted, ConversationEvent } from './setup.machine.ts';
export type {
  ConversationContext,
  ConversationInput,
  ConversationMessage,
  ModelWindow,
  Reply,
  Summary,
  Turn,
  TurnFailure,
  TurnMessage,
} from './turn.ts';
export { BrokenReply, statedLimit } from './turn.ts';

export const conversationMachine = conversationSetup.createMachine({
  id: 'conversation',
  context: ({ input }) => ({
    ...input,
    nextSeq: input.messages.reduce((n, m) => Math.max(n, m.seq + 1), (input.summary?.throughSeq ?? -1) + 1),
    queue: [],
    current: null,
    turnModel: input.model,
    tighten: 1,
    refitted: false,
    learnedWindows: {},
    summarizedThisTurn: false,
    fold: [],
    prompt: [],
    reply: null,
    failure: null,
    summaryFailures: 0,
  }),
  on: {
    'turn.requested': { actions: assign({ queue: ({ context, event }) => [...context.queue, event.turn] }) },
  },
  initial: 'idle',
  states: {
    idle: {
      always: {
        guard: 'hasQueued',
        target: 'checking',
        actions: assign(({ context }) => ({
          current: context.queue[0] ?? null,
          queue: context.queue.slice(1),
          turnModel: context.model,
          tighten: 1,
          refitted: false,
          summarizedThisTurn: false,
          reply: null,
          failure: null,
        })),
      },
    },
    checking: {
      always: [
        // A message that cannot fit even alone with the system prompt: refused before anything is stored.
        {
          guard: 'tooLarge',
          target: 'idle',
          actions: [
            emit(({ context }) => ({
              type: 'turn.failed' as const,
              turnId: context.current?.turnId ?? '',
              error: new SwitchyardError(
                'context_overflow',
                `the message needs ${promptTokens([context.system?.tokens ?? 0, context.current?.tokens ?? 0])} tokens with the system prompt; the window leaves ${largestBudget(context)}`,
              ),
            })),
            assign({ current: null }),
          ],
        },
        // A retried turn that never got its reply starts again from its stored user message: whatever an earlier
        // attempt streamed is dropped, so the turn ends with one user and one assistant message.
        { guard: 'resumed', target: 'restarting', actions: assign({ messages: ({ context }) => restartedMessages(context) }) },
        { target: 'persistingUser' },
      ],
    },
    restarting: {
      invoke: {
        src: 'restartTurn',
        input: ({ context }) => ({ id: context.id, turnId: context.current?.turnId ?? '' }),
        onDone: 'fitting',
        onError: { target: 'idle', actions: ['emitFailure', 'clearTurn'] },
      },
    },
    persistingUser: {
      invoke: {
        src: 'persistUser',
        input: ({ context }) => ({ id: context.id, messages: inputMessages(context) }),
        onDone: {
          target: 'fitting',
          actions: assign(({ context }) => {
            const input = inputMessages(context);
            return { messages: [...context.messages, ...input], nextSeq: context.nextSeq + input.length };
          }),
        },
        onError: { target: 'idle', actions: ['emitFailure', 'clearTurn'] },
      },
    },
    fitting: {
      always: [
        {
          guard: 'shouldSummarize',
          target: 'summarizing',
          actions: assign({ fold: ({ context }) => planFold(fitInput(context), context.summaryMaxTokens) }),
        },
        {
          guard: 'fits',
          target: 'awaitingReply',
          actions: assign({ prompt: ({ context }) => (fitSliding(fitInput(context)) as { keep: number[] }).keep }),
        },
        {
          guard: 'overflowWithFallback',
          target: 'fitting',
          reenter: true,
          actions: assign({ turnModel: ({ context }) => context.fallback ?? context.model }),
        },
        {
          target: 'failing',
          actions: assign({
            failure: ({ context }) => ({
              error: new SwitchyardError('context_overflow', `the prompt does not fit ${context.turnModel.model}`),
            }),
          }),
        },
      ],
    },
    summarizing: {
      invoke: {
        src: 'summarize',
        input: ({ context }) => ({
          id: context.id,
          previous: context.summary,
          messages: context.messages.filter((m) => context.fold.includes(m.seq)),
        }),
        onDone: {
          target: 'savingSummary',
          actions: assign(({ context, event }) => {
            const throughSeq = Math.max(...context.fold);
            return {
              summary: { text: event.output.text, tokens: event.output.tokens, throughSeq },
              messages: context.messages.filter((m) => m.seq > throughSeq),
              summarizedThisTurn: true,
            };
          }),
        },
        // Summarizing failed: fall back to the sliding window for this turn, and count it.
        onError: {
          target: 'fitting',
          actions: assign({ summarizedThisTurn: true, summaryFailures: ({ context }) => context.summaryFailures + 1 }),
        },
      },
    },
    savingSummary: {
      invoke: {
        src: 'persistSummary',
        input: ({ context }) => ({ id: context.id, summary: context.summary as Summary }),
        onDone: 'fitting',
        onError: { target: 'failing', actions: assign({ failure: ({ event }) => failureOf(event.error) }) },
      },
    },
    awaitingReply: {
      invoke: {
        src: 'complete',
        input: ({ context }) => ({
          id: context.id,
          turnId: context.current?.turnId ?? '',
          model: context.turnModel.model,
          messages: promptMessages(context),
          maxTokens: context.current?.maxTokens ?? null,
          params: context.current?.params ?? {},
        }),
        onDone: { target: 'persistingReply', actions: assign({ reply: ({ event }) => event.output }) },
        onError: [
          // The provider's real window is smaller than configured: fit tighter and try once more.
          {
            guard: 'contextExceededFirstTime',
            target: 'fitting',
            // Learn the window the provider states; without one, fit to three quarters of the budget.
            actions: assign(({ context, event }) => {
              const limit = statedLimit(failureOf(event.error).error.message);
              const model = context.turnModel.model;
              return limit === null
                ? { refitted: true, tighten: 0.75 }
                : { refitted: true, learnedWindows: { ...context.learnedWindows, [model]: limit } };
            }),
          },
          {
            guard: 'contextExceededWithFallback',
            target: 'fitting',
            actions: assign({ turnModel: ({ context }) => context.fallback ?? context.model, tighten: 1 }),
          },
          { target: 'failing', actions: assign({ failure: ({ event }) => failureOf(event.error) }) },
        ],
      },
    },
    persistingReply: {
      invoke: {
        src: 'persistReply',
        input: ({ context }) => ({ id: context.id, turnId: context.current?.turnId ?? '', message: replyMessage(context) }),
        onDone: {
          target: 'idle',
          actions: [
            emit(({ context }) => ({
              type: 'turn.completed' as const,
              turnId: context.current?.turnId ?? '',
              reply: context.reply as Reply,
              seq: context.nextSeq,
            })),
            assign(({ context }) => ({
              messages: [
                ...context.messages.map((m) => (m.turnId === context.current?.turnId ? { ...m, status: 'done' as const } : m)),
                replyMessage(context),
              ],
              nextSeq: context.nextSeq + 1,
              current: null,
            })),
          ],
        },
        // Not stored, so not acknowledged: the user message stays pending.
        onError: { target: 'idle', actions: ['emitFailure', 'clearTurn'] },
      },
    },
    failing: {
      invoke: {
        src: 'failTurn',
        input: ({ context }) => ({
          id: context.id,
          turnId: context.current?.turnId ?? '',
          status: failedStatus(context),
          partial: partialMessage(context),
        }),
        onDone: { target: 'idle', actions: ['emitStoredFailure', 'markFailed'] },
        onError: { target: 'idle', actions: ['emitStoredFailure', 'markFailed'] },
      },
    },
  },
});
