// The SQLite store, on Node's built-in node:sqlite (no native addon), in WAL mode with synchronous=FULL so
// that a write acknowledged here survives a crash of the process.

import { statSync } from 'node:fs';
import type { DatabaseSync as Database } from 'node:sqlite';
import { SwitchyardError } from '../errors.ts';
import { type ConversationRow, type MessageRow, messageData, metadataColumn, storedOf } from './rows.ts';
import type { ConversationRecord, ConversationStore, MessageRecord, MessageStatus } from './types.ts';

const schema = `
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY,
  model TEXT NOT NULL,
  system TEXT,
  system_tokens INTEGER NOT NULL,
  strategy TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  summary TEXT,
  summary_tokens INTEGER,
  summary_through INTEGER,
  tenant TEXT,
  metadata TEXT
);
CREATE TABLE IF NOT EXISTS messages (
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  turn_id TEXT NOT NULL,
  status TEXT NOT NULL,
  idempotency_key TEXT,
  created_at INTEGER NOT NULL,
  data TEXT,
  PRIMARY KEY (conversation_id, seq)
);
CREATE TABLE IF NOT EXISTS switchyard_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
`;

/**
 * Brings a database written by an older version up to the current schema. Conversations stored before tenants
 * existed get a NULL tenant: no user key reaches them, admins and keyless servers still do.
 */
function migrate(db: Database) {
  const columns = db.prepare('PRAGMA table_info(conversations)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'tenant')) db.exec('ALTER TABLE conversations ADD COLUMN tenant TEXT DEFAULT NULL');
  // The Conversations API (issue 16): metadata, and item ids and tool calls of messages.
  if (!columns.some((c) => c.name === 'metadata')) db.exec('ALTER TABLE conversations ADD COLUMN metadata TEXT DEFAULT NULL');
  const messageColumns = db.prepare('PRAGMA table_info(messages)').all() as { name: string }[];
  if (!messageColumns.some((c) => c.name === 'data')) db.exec('ALTER TABLE messages ADD COLUMN data TEXT DEFAULT NULL');
  // Per-tenant quotas count a tenant's conversations.
  db.exec('CREATE INDEX IF NOT EXISTS conversations_tenant ON conversations (tenant)');
}

/** Opens (and creates) a SQLite store at `path`; `:memory:` works for tests. */
export function createSqliteStore(path: string): ConversationStore {
  // Loaded here, not at import: node:sqlite is still experimental on Node 22 (a warning when loaded), and an
  // embedder that keeps conversations in memory or in a store of its own should not load it at all.
  const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
  const db: Database = new DatabaseSync(path);
  // A database file deleted (or replaced) under an open handle still takes writes, into an inode nobody will
  // open again: every write first checks that the path still names the file we opened, so no turn is
  // acknowledged that a restart would lose.
  const file = path === ':memory:' || path === '' ? null : statSync(path);
  const sameFile = () => {
    if (!file) return;
    let now: ReturnType<typeof statSync> | undefined;
    try {
      now = statSync(path);
    } catch {}
    if (!now || now.ino !== file.ino || now.dev !== file.dev)
      throw new SwitchyardError('store_unavailable', `the database file ${path} was deleted or replaced`);
  };
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  db.exec(schema);
  migrate(db);
  const insertConversation = db.prepare(
    'INSERT INTO conversations (id, model, system, system_tokens, strategy, created_at, tenant, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const selectConversation = db.prepare('SELECT * FROM conversations WHERE id = ?');
  const selectMessages = db.prepare('SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq');
  const insertMessage = db.prepare(
    'INSERT INTO messages (conversation_id, seq, role, content, tokens, turn_id, status, idempotency_key, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const updateMetadata = db.prepare('UPDATE conversations SET metadata = ? WHERE id = ?');
  const deleteMessage = db.prepare('DELETE FROM messages WHERE conversation_id = ? AND seq = ?');
  const setTurnStatus = db.prepare('UPDATE messages SET status = ? WHERE conversation_id = ? AND turn_id = ?');
  const updateSummary = db.prepare('UPDATE conversations SET summary = ?, summary_tokens = ?, summary_through = ? WHERE id = ?');
  const deleteReplies = db.prepare("DELETE FROM messages WHERE conversation_id = ? AND turn_id = ? AND role = 'assistant'");
  const probe = db.prepare('INSERT OR REPLACE INTO switchyard_probe (id, at) VALUES (1, ?)');
  const countTenant = db.prepare('SELECT COUNT(*) AS n FROM conversations WHERE tenant IS ?');
  const deleteConversation = db.prepare('DELETE FROM conversations WHERE id = ?');

  const transaction = (fn: () => void) => {
    sameFile();
    db.exec('BEGIN IMMEDIATE');
    try {
      fn();
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  };
  const insert = (id: string, m: MessageRecord, status: MessageStatus = m.status) =>
    insertMessage.run(id, m.seq, m.role, m.content, m.tokens, m.turnId, status, m.idempotencyKey, m.createdAt, messageData(m));
  const exists = (id: string) => {
    if (!selectConversation.get(id)) throw new SwitchyardError('conversation_not_found', `no conversation "${id}"`);
  };

  return {
    async create(c: ConversationRecord) {
      sameFile();
      try {
        insertConversation.run(
          c.id,
          c.model,
          c.system,
          c.systemTokens,
          c.strategy,
          c.createdAt,
          c.tenant ?? null,
          metadataColumn(c.metadata),
        );
      } catch (cause) {
        if (selectConversation.get(c.id)) throw new SwitchyardError('conversation_exists', `conversation "${c.id}" exists`, { cause });
        throw cause;
      }
    },
    async load(id) {
      const row = selectConversation.get(id) as ConversationRow | undefined;
      if (!row) return null;
      return storedOf(row, selectMessages.all(id) as unknown as MessageRow[]);
    },
    async appendUser(id, message) {
      sameFile();
      exists(id);
      insert(id, message, 'pending');
    },
    async completeTurn(id, turnId, reply) {
      transaction(() => {
        setTurnStatus.run('done', id, turnId);
        insert(id, reply, 'done');
      });
    },
    async failTurn(id, turnId, status, partial) {
      transaction(() => {
        setTurnStatus.run(status, id, turnId);
        if (partial) insert(id, partial, status);
      });
    },
    async restartTurn(id, turnId) {
      transaction(() => {
        deleteReplies.run(id, turnId);
        setTurnStatus.run('pending', id, turnId);
      });
    },
    async saveSummary(id, summary) {
      sameFile();
      updateSummary.run(summary.text, summary.tokens, summary.throughSeq, id);
    },
    async appendMessages(id, messages) {
      transaction(() => {
        exists(id);
        for (const m of messages) insert(id, m);
      });
    },
    async setMetadata(id, metadata) {
      sameFile();
      exists(id);
      updateMetadata.run(metadataColumn(metadata), id);
    },
    async deleteMessage(id, seq) {
      sameFile();
      exists(id);
      return Number(deleteMessage.run(id, seq).changes) > 0;
    },
    async countByTenant(tenant) {
      return Number((countTenant.get(tenant) as { n: number }).n);
    },
    // A SQLite file has one writing process (BEGIN IMMEDIATE serializes the rest): the token never changes.
    async acquireLease(id) {
      exists(id);
      return 1;
    },
    async releaseLease() {},
    async delete(id) {
      sameFile();
      return Number(deleteConversation.run(id).changes) > 0;
    },
    async probe() {
      sameFile();
      probe.run(Date.now());
    },
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
