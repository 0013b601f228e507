// One conversation's statechart. Turns queue in its mailbox and run one at a time:
// checking → persistingUser → fitting (→ summarizing) → awaitingReply → persistingReply → idle.
// Pure: token counts arrive with the messages, and store writes, completions and summaries are actors provided
// by src/conversation/registry.ts and src/conversation/actor.ts. Outcomes leave as emitted events (turn.completed, turn.failed).

import { assign, emit, fromPromise, setup } from 'xstate';
import { fitSliding, planFold, promptTokens } from './fit.ts';
import {
  type ChatMessage,
  type ConversationContext,
  type ConversationInput,
  type ConversationMessage,
  errorOf,
  failedStatus,
  fitInput,
  largestBudget,
  partialMessage,
  promptMessages,
  type Reply,
  replyMessage,
  type Summary,
  statedLimit,
  type Turn,
  userMessage,
} from './turn.ts';

export type {
  ChatMessage,
  ConversationContext,
  ConversationInput,
  ConversationMessage,
  ModelWindow,
  Reply,
  Summary,
  Turn,
} from './turn.ts';
export { promptMessages, statedLimit } from './turn.ts';

export type ConversationEvent = { type: 'turn.requested'; turn: Turn };

export type ConversationEmitted =
  | { type: 'turn.completed'; turnId: string; reply: Reply; seq: number }
  | { type: 'turn.failed'; turnId: string; code: string; message: string; status?: number };

const providedLater = (name: string) => async (): Promise<never> => {
  throw new Error(`${name} is provided by the actor layer`);
};

export const conversationMachine = setup({
  types: {
    context: {} as ConversationContext,
    events: {} as ConversationEvent,
    input: {} as ConversationInput,
    emitted: {} as ConversationEmitted,
  },
  // Every actor is provided by the actor layer (src/conversation/actor.ts). A default that succeeded would
  // acknowledge what was never stored, so each one throws.
  actors: {
    persistUser: fromPromise<void, { id: string; message: ConversationMessage }>(providedLater('persistUser')),
    summarize: fromPromise<{ text: string; tokens: number }, { id: string; previous: Summary | null; messages: ConversationMessage[] }>(
      providedLater('summarize'),
    ),
    complete: fromPromise<Reply, { id: string; turnId: string; model: string; messages: ChatMessage[]; maxTokens: number | null }>(
      providedLater('complete'),
    ),
    persistReply: fromPromise<void, { id: string; turnId: string; message: ConversationMessage }>(providedLater('persistReply')),
    persistSummary: fromPromise<void, { id: string; summary: Summary }>(providedLater('persistSummary')),
    failTurn: fromPromise<void, { id: string; turnId: string; status: 'failed' | 'interrupted'; partial: ConversationMessage | null }>(
      providedLater('failTurn'),
    ),
  },
  actions: {
    emitFailure: emit(({ context, event }) => ({
      type: 'turn.failed' as const,
      turnId: context.current?.turnId ?? '',
      ...errorOf((event as { error?: unknown }).error),
    })),
    emitStoredFailure: emit(({ context }) => ({
      type: 'turn.failed' as const,
      turnId: context.current?.turnId ?? '',
      code: context.failure?.code ?? 'internal_error',
      message: context.failure?.message ?? 'the turn failed',
      ...(context.failure?.status === undefined ? {} : { status: context.failure.status }),
    })),
    markFailed: assign(({ context }) => {
      const status = failedStatus(context);
      const partial = partialMessage(context);
      return {
        messages: [
          ...context.messages.map((m) => (m.turnId === context.current?.turnId ? { ...m, status } : m)),
          ...(partial ? [partial] : []),
        ],
        nextSeq: partial ? context.nextSeq + 1 : context.nextSeq,
        current: null,
      };
    }),
    clearTurn: assign({ current: null }),
  },
  guards: {
    hasQueued: ({ context }) => context.queue.length > 0,
    tooLarge: ({ context }) => promptTokens([context.system?.tokens ?? 0, context.current?.tokens ?? 0]) > largestBudget(context),
    resumed: ({ context }) => context.current?.resumed === true,
    shouldSummarize: ({ context }) =>
      context.strategy === 'summarize' && !context.summarizedThisTurn && planFold(fitInput(context), context.summaryMaxTokens).length > 0,
    fits: ({ context }) => fitSliding(fitInput(context)).ok,
    contextExceededFirstTime: ({ context, event }) =>
      errorOf((event as { error?: unknown }).error).code === 'context_length_exceeded' && !context.refitted,
    contextExceededWithFallback: ({ context, event }) =>
      ['context_length_exceeded', 'context_overflow'].includes(errorOf((event as { error?: unknown }).error).code) &&
      context.fallback !== null &&
      context.turnModel.model !== context.fallback.model,
    overflowWithFallback: ({ context }) => context.fallback !== null && context.turnModel.model !== context.fallback.model,
  },
}).createMachine({
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
              code: 'context_overflow',
              message: `the message needs ${promptTokens([context.system?.tokens ?? 0, context.current?.tokens ?? 0])} tokens with the system prompt; the window leaves ${largestBudget(context)}`,
            })),
            assign({ current: null }),
          ],
        },
        { guard: 'resumed', target: 'fitting' },
        { target: 'persistingUser' },
      ],
    },
    persistingUser: {
      invoke: {
        src: 'persistUser',
        input: ({ context }) => ({ id: context.id, message: userMessage(context) }),
        onDone: {
          target: 'fitting',
          actions: assign(({ context }) => ({ messages: [...context.messages, userMessage(context)], nextSeq: context.nextSeq + 1 })),
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
            failure: ({ context }) => ({ code: 'context_overflow', message: `the prompt does not fit ${context.turnModel.model}` }),
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
        onError: { target: 'failing', actions: assign({ failure: ({ event }) => errorOf(event.error) }) },
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
        }),
        onDone: { target: 'persistingReply', actions: assign({ reply: ({ event }) => event.output }) },
        onError: [
          // The provider's real window is smaller than configured: fit tighter and try once more.
          {
            guard: 'contextExceededFirstTime',
            target: 'fitting',
            // Learn the window the provider states; without one, fit to three quarters of the budget.
            actions: assign(({ context, event }) => {
              const limit = statedLimit(errorOf(event.error).message);
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
          { target: 'failing', actions: assign({ failure: ({ event }) => errorOf(event.error) }) },
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
