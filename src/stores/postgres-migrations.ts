// The Postgres store's schema, as numbered migrations. Each runs once, in order, in its own transaction, and
// is recorded in `switchyard_migrations`; a session advisory lock makes instances that start together take
// turns, so exactly one of them applies each migration and the others find it done.

import type { Pool } from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Never edit a migration that has shipped: add the next one. */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'conversations, messages, write leases',
    sql: `
CREATE TABLE switchyard_conversations (
  id text PRIMARY KEY,
  model text NOT NULL,
  system text,
  system_tokens integer NOT NULL,
  strategy text NOT NULL,
  created_at bigint NOT NULL,
  summary text,
  summary_tokens integer,
  summary_through integer,
  tenant text
);
CREATE INDEX switchyard_conversations_tenant ON switchyard_conversations (tenant);
CREATE TABLE switchyard_messages (
  conversation_id text NOT NULL REFERENCES switchyard_conversations (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  role text NOT NULL,
  content text NOT NULL,
  tokens integer NOT NULL,
  turn_id text NOT NULL,
  status text NOT NULL,
  idempotency_key text,
  created_at bigint NOT NULL,
  PRIMARY KEY (conversation_id, seq)
);
-- A retry through any instance finds the turn its key stored; two instances can never both store it.
CREATE UNIQUE INDEX switchyard_messages_idempotency ON switchyard_messages (conversation_id, idempotency_key)
  WHERE role = 'user' AND idempotency_key IS NOT NULL;
-- One row per conversation, made with it: every write locks it (FOR SHARE) and checks its token.
CREATE TABLE switchyard_leases (
  conversation_id text PRIMARY KEY REFERENCES switchyard_conversations (id) ON DELETE CASCADE,
  owner text NOT NULL,
  token bigint NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE TABLE switchyard_probe (id integer PRIMARY KEY, at bigint NOT NULL);
`,
  },
  {
    version: 2,
    name: 'Conversations API: metadata, item ids and tool calls',
    sql: `
ALTER TABLE switchyard_conversations ADD COLUMN metadata text;
-- JSON of what a message carries beyond its text: its item id, its tool calls, the call a tool result answers.
ALTER TABLE switchyard_messages ADD COLUMN data text;
`,
  },
];

/** The advisory lock key of migrations ('SWYD'), a fixed bigint that other applications are unlikely to use. */
const lockKey = 0x53575944;

/** Applies the migrations this database lacks; returns the versions applied by this call. */
export async function runMigrations(pool: Pool): Promise<number[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // Session-level: held across the per-migration transactions, freed by the server if this connection dies.
    await client.query('SELECT pg_advisory_lock($1)', [lockKey]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS switchyard_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const done = new Set(
        (await client.query<{ version: number }>('SELECT version FROM switchyard_migrations')).rows.map((r) => r.version),
      );
      const applied: number[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO switchyard_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
        applied.push(m.version);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [lockKey]);
    }
  } catch (err) {
    broken = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    // A connection that failed mid-way is dropped, not handed back to the pool.
    client.release(broken);
  }
}

/** The newest migration applied to this database (0 for none): a store that does not migrate checks it. */
export async function schemaVersion(pool: Pool): Promise<number> {
  const table = await pool.query<{ present: boolean }>("SELECT to_regclass('switchyard_migrations') IS NOT NULL AS present");
  if (!table.rows[0]?.present) return 0;
  const result = await pool.query<{ version: number | null }>('SELECT max(version) AS version FROM switchyard_migrations');
  return result.rows[0]?.version ?? 0;
}

export const latestVersion = migrations.reduce((max, m) => Math.max(max, m.version), 0);
