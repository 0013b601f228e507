// The data of a conversation and its turns, and the arithmetic of its prompt: its token budget, what may enter it, and
// its messages.

import type { ChatCompletion } from 'openai/resources/chat/completions';
import { asSwitchyard, type RouteInfo, type SwitchyardError } from '../errors.ts';
import type { FitMessage } from './fit.ts';

/** A stored message's role (as the store's MessageRole: the machine imports no store module). */
export type MessageRole = 'user' | 'assistant' | 'tool' | 'system' | 'developer';

/** A function call of an assistant message, with its item id (as the store's ToolCallRecord). */
export interface ToolCallRecord {
  id: string;
  name: string;
  arguments: string;
  itemId: string;
}

export interface ConversationMessage {
  seq: number;
  role: MessageRole;
  content: string;
  tokens: number;
  turnId: string;
  status: 'pending' | 'done' | 'failed' | 'interrupted';
  idempotencyKey: string | null;
  itemId?: string | undefined;
  toolCalls?: ToolCallRecord[] | undefined;
  toolCallId?: string | undefined;
}

/** One message a turn adds before it asks: the user's message, or a tool's result for a call of the last reply. */
export interface TurnMessage {
  role: 'user' | 'tool';
  content: string;
  tokens: number;
  itemId?: string | undefined;
  toolCallId?: string | undefined;
}

export interface Turn {
  turnId: string;
  /** The first message's text: what an idempotency key is checked against. */
  content: string;
  /** Tokens of the turn's messages, counted once by the caller. */
  tokens: number;
  maxTokens: number | null;
  idempotencyKey: string | null;
  /** The user message is already stored (a pending turn run again). */
  resumed: boolean;
  /** The turn's messages; without them, one user message of `content`. */
  input?: TurnMessage[] | undefined;
  /** The rest of the client's chat request (tools, temperature…): sent to the upstream as it came. */
  params?: Record<string, unknown> | undefined;
}

export interface Summary {
  text: string;
  tokens: number;
  throughSeq: number;
}

export interface Reply {
  content: string;
  /** The function calls the reply makes (none: a text reply). */
  toolCalls?: ToolCallRecord[] | undefined;
  /** The reply's item id (msg_…), made where the reply is. */
  itemId?: string | undefined;
  tokens: number;
  finishReason: string;
  /** The upstream's logprobs of a reply made by a plain (not streamed) call; never stored, absent on replay. */
  logprobs?: ChatCompletion.Choice['logprobs'] | undefined;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  /** The request that produced the reply: deployments and attempts, as the chat path reports them. */
  route: RouteInfo;
}

/** Why a turn failed: the request's error whole, and the reply text a stream delivered before it broke. */
export interface TurnFailure {
  error: SwitchyardError;
  partial?: { content: string; tokens: number };
}

/** A streamed reply that broke after delivering text: its error, and that text (kept as an interrupted message). */
export class BrokenReply extends Error {
  readonly error: SwitchyardError;
  readonly partial: { content: string; tokens: number };

  constructor(error: SwitchyardError, partial: { content: string; tokens: number }) {
    super(error.message, { cause: error });
    this.name = 'BrokenReply';
    this.error = error;
    this.partial = partial;
  }
}

/** What an invoked actor threw, as a turn failure: its SwitchyardError unchanged, anything else an internal_error. */
export function failureOf(thrown: unknown): TurnFailure {
  if (thrown instanceof BrokenReply)
    return thrown.partial.content === '' ? { error: thrown.error } : { error: thrown.error, partial: thrown.partial };
  return { error: asSwitchyard(thrown) };
}

export interface ModelWindow {
  model: string;
  contextWindow: number;
}

export const budgetFor = (c: ConversationContext, window: ModelWindow) => {
  const reserve = c.current?.maxTokens ?? c.reserveTokens;
  const learned = c.learnedWindows[window.model] ?? Number.POSITIVE_INFINITY;
  return Math.floor((Math.min(window.contextWindow, learned) - reserve) * c.tighten);
};

/** The limit a provider states in its context_length_exceeded message ("maximum context length is 8192 tokens"). */
export function statedLimit(message: string): number | null {
  const match = /maximum context length is (\d+)/i.exec(message);
  return match ? Number(match[1]) : null;
}
export const budgetOf = (c: ConversationContext) => budgetFor(c, c.turnModel);
/** The most any model of this conversation can take: its own, or its fallback's. */
export const largestBudget = (c: ConversationContext) => Math.max(budgetFor(c, c.model), c.fallback ? budgetFor(c, c.fallback) : 0);

/** The history that may enter a prompt: answered turns, and the turn being answered. */
export const promptable = (c: ConversationContext): FitMessage[] =>
  c.messages.filter((m) => m.status === 'done' || m.turnId === c.current?.turnId);

/** A turn's messages: its input, or its one user message. */
export const turnInput = (t: Turn): TurnMessage[] => t.input ?? [{ role: 'user', content: t.content, tokens: t.tokens }];

export const fitInput = (c: ConversationContext) => ({
  system: c.system?.tokens ?? 0,
  summary: c.summary?.tokens ?? 0,
  history: promptable(c),
  budget: budgetOf(c),
});

/** The messages a turn stores before it asks (write-ahead), numbered from nextSeq; the key rides on the first. */
export function inputMessages(c: ConversationContext): ConversationMessage[] {
  const t = c.current as Turn;
  return turnInput(t).map((m, i) => ({
    seq: c.nextSeq + i,
    role: m.role,
    content: m.content,
    tokens: m.tokens,
    turnId: t.turnId,
    status: 'pending',
    idempotencyKey: i === 0 ? t.idempotencyKey : null,
    ...(m.itemId === undefined ? {} : { itemId: m.itemId }),
    ...(m.toolCallId === undefined ? {} : { toolCallId: m.toolCallId }),
  }));
}

export function replyMessage(c: ConversationContext): ConversationMessage {
  const r = c.reply as Reply;
  return {
    seq: c.nextSeq,
    role: 'assistant',
    content: r.content,
    tokens: r.tokens,
    turnId: c.current?.turnId ?? '',
    status: 'done',
    idempotencyKey: null,
    ...(r.itemId === undefined ? {} : { itemId: r.itemId }),
    ...(r.toolCalls?.length ? { toolCalls: r.toolCalls } : {}),
  };
}

/** A turn the caller abandoned mid-stream is interrupted; any other failure is failed. */
export function failedStatus(c: ConversationContext): 'failed' | 'interrupted' {
  return c.failure?.error.code === 'aborted' ? 'interrupted' : 'failed';
}

/** The messages with the current turn started again: its user message pending, its partial replies gone. */
export function restartedMessages(c: ConversationContext): ConversationMessage[] {
  const turnId = c.current?.turnId;
  return c.messages
    .filter((m) => !(m.turnId === turnId && m.role === 'assistant'))
    .map((m) => (m.turnId === turnId ? { ...m, status: 'pending' as const } : m));
}

/** The part of a reply that streamed before the turn broke, kept as an interrupted assistant message. */
export function partialMessage(c: ConversationContext): ConversationMessage | null {
  const partial = c.failure?.partial;
  if (!partial) return null;
  return {
    seq: c.nextSeq,
    role: 'assistant',
    content: partial.content,
    tokens: partial.tokens,
    turnId: c.current?.turnId ?? '',
    status: 'interrupted',
    idempotencyKey: null,
  };
}

export interface ConversationInput {
  id: string;
  model: ModelWindow;
  /** A larger-context model to move an oversize prompt to. */
  fallback: ModelWindow | null;
  system: { content: string; tokens: number } | null;
  strategy: 'sliding' | 'summarize';
  reserveTokens: number;
  summaryMaxTokens: number;
  summary: Summary | null;
  messages: ConversationMessage[];
}

export interface ConversationContext extends ConversationInput {
  nextSeq: number;
  queue: Turn[];
  current: Turn | null;
  /** The model this turn runs on (the fallback after a move). */
  turnModel: ModelWindow;
  /** Share of the budget in use: 1, then lower after the provider said the prompt was too long. */
  tighten: number;
  /** The turn was re-fitted once after context_length_exceeded. */
  refitted: boolean;
  /** Real windows that providers stated, by model: smaller than configured. */
  learnedWindows: Record<string, number>;
  summarizedThisTurn: boolean;
  fold: number[];
  prompt: number[];
  reply: Reply | null;
  /** Why the turn failed; `partial` is the reply text a stream delivered before it broke or was abandoned. */
  failure: TurnFailure | null;
  summaryFailures: number;
}
