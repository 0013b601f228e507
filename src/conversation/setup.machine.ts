// The conversation machine's vocabulary: its types, the actors it invokes (defaults here; the real ones are
// provided by src/conversation/actor.ts), and its named actions and guards. The chart is in machine.ts.
// Pure, like the chart: no I/O, no clock, no tokenizer.

import { assign, emit, fromPromise, setup } from 'xstate';
import { SwitchyardError } from '../errors.ts';
import { fitSliding, planFold, promptTokens } from './fit.ts';
import type { ChatMessage } from './prompt.ts';
import {
  type ConversationContext,
  type ConversationInput,
  type ConversationMessage,
  failedStatus,
  failureOf,
  fitInput,
  largestBudget,
  partialMessage,
  type Reply,
  type Summary,
  type Turn,
} from './turn.ts';

export type ConversationEvent = { type: 'turn.requested'; turn: Turn };

export type ConversationEmitted =
  | { type: 'turn.completed'; turnId: string; reply: Reply; seq: number }
  /** The request's error whole: code, status, retryable, retryAfterMs, attempts and route. */
  | { type: 'turn.failed'; turnId: string; error: SwitchyardError };

const providedLater = (name: string) => async (): Promise<never> => {
  throw new Error(`${name} is provided by the actor layer`);
};

export const conversationSetup = setup({
  types: {
    context: {} as ConversationContext,
    events: {} as ConversationEvent,
    input: {} as ConversationInput,
    emitted: {} as ConversationEmitted,
  },
  // Every actor is provided by the actor layer (src/conversation/actor.ts). A default that succeeded would
  // acknowledge what was never stored, so each one throws.
  actors: {
    /** Stores the turn's input messages, pending (write-ahead). */
    persistUser: fromPromise<void, { id: string; messages: ConversationMessage[] }>(providedLater('persistUser')),
    summarize: fromPromise<{ text: string; tokens: number }, { id: string; previous: Summary | null; messages: ConversationMessage[] }>(
      providedLater('summarize'),
    ),
    complete: fromPromise<
      Reply,
      { id: string; turnId: string; model: string; messages: ChatMessage[]; maxTokens: number | null; params: Record<string, unknown> }
    >(providedLater('complete')),
    persistReply: fromPromise<void, { id: string; turnId: string; message: ConversationMessage }>(providedLater('persistReply')),
    persistSummary: fromPromise<void, { id: string; summary: Summary }>(providedLater('persistSummary')),
    failTurn: fromPromise<void, { id: string; turnId: string; status: 'failed' | 'interrupted'; partial: ConversationMessage | null }>(
      providedLater('failTurn'),
    ),
    // Drops what an earlier attempt of a retried turn stored of its reply.
    restartTurn: fromPromise<void, { id: string; turnId: string }>(providedLater('restartTurn')),
  },
  actions: {
    emitFailure: emit(({ context, event }) => ({
      type: 'turn.failed' as const,
      turnId: context.current?.turnId ?? '',
      error: failureOf((event as { error?: unknown }).error).error,
    })),
    emitStoredFailure: emit(({ context }) => ({
      type: 'turn.failed' as const,
      turnId: context.current?.turnId ?? '',
      error: context.failure?.error ?? new SwitchyardError('internal_error', 'the turn failed'),
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
      failureOf((event as { error?: unknown }).error).error.code === 'context_length_exceeded' && !context.refitted,
    contextExceededWithFallback: ({ context, event }) =>
      ['context_length_exceeded', 'context_overflow'].includes(failureOf((event as { error?: unknown }).error).error.code) &&
      context.fallback !== null &&
      context.turnModel.model !== context.fallback.model,
    overflowWithFallback: ({ context }) => context.fallback !== null && context.turnModel.model !== context.fallback.model,
  },
});
