// The rows of the SQL stores (SQLite, Postgres) and the records they hold: one mapping for both. Times are
// numbers from SQLite and, as bigint columns, strings from `pg`.

import type { MessageRecord, MessageStatus, StoredConversation, Strategy } from './types.ts';

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
}

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
    },
    messages: messages.map(
      (m): MessageRecord => ({
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
