// Seeds a SQLite conversation store with `count` conversations of one answered turn each, in one transaction
// (the store's own writes are fsynced one by one, which is right for serving and too slow for seeding).

import { randomUUID } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { createSqliteStore } from '../src/stores/sqlite.ts';

export function seedConversations(path: string, count: number): string[] {
  void createSqliteStore(path).close(); // creates the schema
  const db = new DatabaseSync(path);
  const conversation = db.prepare(
    'INSERT INTO conversations (id, model, system, system_tokens, strategy, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const message = db.prepare(
    'INSERT INTO messages (conversation_id, seq, role, content, tokens, turn_id, status, idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const ids: string[] = [];
  db.exec('BEGIN');
  for (let i = 0; i < count; i++) {
    const id = randomUUID();
    const turn = randomUUID();
    ids.push(id);
    conversation.run(id, 'chat', 'Be brief.', 8, 'sliding', Date.now());
    message.run(id, 0, 'user', `Question ${i} about gateways and their providers?`, 14, turn, 'done', null, Date.now());
    message.run(
      id,
      1,
      'assistant',
      'A gateway keeps every chat alive while providers fail and recover under load.',
      19,
      turn,
      'done',
      null,
      Date.now(),
    );
  }
  db.exec('COMMIT');
  db.close();
  return ids;
}
