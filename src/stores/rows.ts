// The rows of the SQL stores (SQLite, Postgres) and the records they hold: one mapping for both. Times are
// numbers from SQLite and, as bigint columns, strings from `pg`.

import type { MessageRecord, MessageStatus, Metadata, StoredConversation, Strategy, ToolCallRecord } from './types.ts';

export interface ConversationRow {
  id: string;
  model: string;
  system: string | null;
  system_tokens: number;
  strategy: string;
  created_at: number | string;
  summary: string | null;
  summary_tokens: number | null;
  summary_through: number | null;
  tenant: string | null;
  /** JSON; absent in a database not yet migrated. */
  metadata?: string | null;
}

export interface MessageRow {
  seq: number;
  role: string;
  content: string;
  tokens: number;
  turn_id: string;
  status: string;
  idempotency_key: string | null;
  created_at: number | string;
  /** JSON of what a message carries beyond its text (item id, tool calls, the call a tool result answers). */
  data?: string | null;
}

interface MessageData {
  itemId?: string;
  toolCalls?: ToolCallRecord[];
  toolCallId?: string;
}

/** The `data` column of a message: null when it carries nothing beyond its text. */
export function messageData(m: MessageRecord): string | null {
  const data: MessageData = {
    ...(m.itemId === undefined ? {} : { itemId: m.itemId }),
    ...(m.toolCalls === undefined ? {} : { toolCalls: m.toolCalls }),
    ...(m.toolCallId === undefined ? {} : { toolCallId: m.toolCallId }),
  };
  return Object.keys(data).length === 0 ? null : JSON.stringify(data);
}

/** The `metadata` column of a conversation. */
export const metadataColumn = (metadata: Metadata | null | undefined): string | null =>
  metadata && Object.keys(metadata).length > 0 ? JSON.stringify(metadata) : null;

export function storedOf(row: ConversationRow, messages: MessageRow[]): StoredConversation {
  return {
    conversation: {
      id: row.id,
      model: row.model,
      system: row.system,
      systemTokens: row.system_tokens,
      strategy: row.strategy as Strategy,
      createdAt: Number(row.created_at),
      summary: row.summary === null ? null : { text: row.summary, tokens: row.summary_tokens ?? 0, throughSeq: row.summary_through ?? -1 },
      tenant: row.tenant,
      metadata: row.metadata ? (JSON.parse(row.metadata) as Metadata) : null,
    },
    messages: messages.map(
      (m): MessageRecord => ({
        ...(m.data ? (JSON.parse(m.data) as MessageData) : {}),
        seq: m.seq,
        role: m.role as MessageRecord['role'],
        content: m.content,
        tokens: m.tokens,
        turnId: m.turn_id,
        status: m.status as MessageStatus,
        idempotencyKey: m.idempotency_key,
        createdAt: Number(m.created_at),
      }),
    ),
  };
}
