// The conversation API's types, and the read view of a stored conversation.

import type { RouteInfo } from '../errors.ts';
import type { ChatStreamDelta, ChatStreamEnd } from '../routing/request.ts';
import type { MessageRecord, MessageRole, Metadata, StoredConversation, Strategy, ToolCallRecord } from '../stores/types.ts';
import { promptTokens } from './fit.ts';
import type { ItemInput } from './items.ts';
import type { ConversationContext, Reply } from './machine.ts';

export interface CreateConversation {
  /** Its logical model; without one, the first logical model of the config. */
  model?: string;
  system?: string | null;
  strategy?: Strategy;
  /** The tenant that owns it; calls scoped to another tenant find no such conversation; counted by the per-tenant quota (limits.conversationsPerTenant). */
  tenant?: string | null;
  /** OpenAI's metadata (at most 16 pairs; keys up to 64 characters, values up to 512). */
  metadata?: Metadata | null;
  /** Items to start with (OpenAI's Conversations API), stored as answered messages. */
  items?: readonly ItemInput[];
}

/** Limits a call to one tenant's conversations; without a tenant (embedding, admins) every one is reachable. */
export interface ConversationScope {
  tenant?: string | undefined;
}

export interface PostOptions extends ConversationScope {
  idempotencyKey?: string | null;
  maxTokens?: number | null;
  signal?: AbortSignal;
}

export interface TurnResult {
  turnId: string;
  content: string;
  /** The function calls the reply makes, each with the id of its `function_call` item. */
  toolCalls?: ToolCallRecord[] | undefined;
  /** The reply's item id (msg_…); absent for a replayed reply stored before items existed. */
  itemId?: string | undefined;
  finishReason: string;
  /** The upstream's logprobs when the request asked for them (a plain turn; not stored, so absent on replay). */
  logprobs?: Reply['logprobs'];
  usage: Reply['usage'];
  /** The deployments that answered (`route.deployments`). */
  deployments: string[];
  /** The request behind the reply, as the chat path reports it; no deployments nor attempts for a replayed turn. */
  route: RouteInfo;
  /** True when an idempotent retry returned the stored reply of an earlier post. */
  replayed: boolean;
}

/**
 * A streamed turn: the chat stream's own events. The end comes once the reply is stored and carries the turn's
 * result. A replayed turn streams its stored reply as one delta whose `deployment` is '' (no deployment served it).
 */
export type TurnStreamEvent = ChatStreamDelta | (ChatStreamEnd & { result: TurnResult });

export interface ConversationView {
  id: string;
  model: string;
  system: string | null;
  strategy: Strategy;
  createdAt: number;
  metadata: Metadata;
  summary: { text: string; tokens: number; throughSeq: number } | null;
  messages: {
    seq: number;
    role: MessageRole;
    content: string;
    tokens: number;
    status: MessageRecord['status'];
    turnId: string;
    toolCalls?: ToolCallRecord[] | undefined;
    toolCallId?: string | undefined;
  }[];
  /** Turns whose user message is stored but that have no reply (a crash or a failure mid-turn). */
  pending: { turnId: string; content: string }[];
  /** Prompt tokens of the current window: system, summary and answered turns. */
  tokens: number;
}

export interface LiveConversation {
  /** The machine's state: idle, checking, persistingUser, fitting, summarizing, awaitingReply, persistingReply… */
  state: string;
  queued: number;
  /** Turns on which summarizing failed and the sliding window was used instead. */
  summaryFailures: number;
  summary: { text: string; tokens: number; throughSeq: number } | null;
  messages: { seq: number; role: MessageRole; tokens: number; status: MessageRecord['status']; turnId: string }[];
}

/** What GET shows of a conversation: read from the store, so reading never activates an actor. */
export function viewOf(stored: StoredConversation): ConversationView {
  const c = stored.conversation;
  const through = c.summary?.throughSeq ?? -1;
  const answered = stored.messages.filter((m) => m.seq > through && m.status === 'done');
  return {
    id: c.id,
    model: c.model,
    system: c.system,
    strategy: c.strategy,
    createdAt: c.createdAt,
    metadata: c.metadata ?? {},
    summary: c.summary,
    messages: stored.messages.map(({ seq, role, content, tokens, status, turnId, toolCalls, toolCallId }) => ({
      seq,
      role,
      content,
      tokens,
      status,
      turnId,
      ...(toolCalls ? { toolCalls } : {}),
      ...(toolCallId ? { toolCallId } : {}),
    })),
    pending: stored.messages
      .filter((m) => m.role === 'user' && m.status === 'pending')
      .map((m) => ({ turnId: m.turnId, content: m.content })),
    tokens: promptTokens([c.systemTokens, c.summary?.tokens ?? 0, ...answered.map((m) => m.tokens)]),
  };
}

/** What the inspector shows of a conversation actor in memory. */
export function liveOf(snapshot: { value: unknown; context: ConversationContext }): LiveConversation {
  const c = snapshot.context;
  return {
    state: String(snapshot.value),
    queued: c.queue.length,
    summaryFailures: c.summaryFailures,
    summary: c.summary,
    messages: c.messages.map(({ seq, role, tokens, status, turnId }) => ({ seq, role, tokens, status, turnId })),
  };
}
