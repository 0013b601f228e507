// The Postgres store: conversations shared by every gateway instance, with one writer per conversation. Each
// instance (each store object) has an owner id; a conversation's lease row says which owner may write and its
// fencing token, and every write checks that token in its own transaction, under a share lock on the lease row
// that a takeover must wait for. `pg` loads on first use, so a gateway on another store never loads it.

import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { SwitchyardError } from '../errors.ts';
import { latestVersion, runMigrations, schemaVersion } from './postgres-migrations.ts';
import { type ConversationRow, type MessageRow, messageData, metadataColumn, storedOf } from './rows.ts';
import type { ConversationRecord, ConversationStore, MessageRecord, MessageStatus } from './types.ts';

export interface PostgresStoreOptions {
  /** This instance's owner id in leases (a random UUID by default). */
  owner?: string;
  /** Apply migrations on first use (default true); false: only check that `switchyard migrate` ran. */
  migrate?: boolean;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** How long a query waits for a connection before it fails (default 5000 ms): bounds requests while Postgres is down. */
  connectionTimeoutMs?: number;
}

export interface PostgresStore extends Required<ConversationStore> {
  readonly owner: string;
}

/** Opens the pool (loading `pg`); the caller applies or checks migrations. */
export async function openPool(url: string, options: PostgresStoreOptions = {}): Promise<Pool> {
  const { Pool } = await import('pg');
  const pool = new Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
  });
  // An idle connection that the server closes (a restart, a failover) is reported here; the pool drops it and
  // the next query opens a new one. Without a listener, the error would crash the process.
  pool.on('error', () => {});
  return pool;
}

const moved = (id: string, cause?: unknown, retryAfterMs?: number) =>
  new SwitchyardError('conversation_moved', `conversation "${id}" is being written by another instance`, {
    ...(cause === undefined ? {} : { cause }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
const notFound = (id: string) => new SwitchyardError('conversation_not_found', `no conversation "${id}"`);
const sqlState = (err: unknown) => (typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '');

/** A conversation store on Postgres at `url` (postgres://…). Sync: the pool opens and migrates on first use. */
export function createPostgresStore(url: string, options: PostgresStoreOptions = {}): PostgresStore {
  const owner = options.owner ?? randomUUID();
  /** Fencing tokens of the leases this instance took, by conversation. */
  const held = new Map<string, number>();
  let opening: Promise<Pool> | undefined;
  let ready: Promise<void> | undefined;
  let closed = false;

  async function db(): Promise<Pool> {
    if (closed) throw new SwitchyardError('store_unavailable', 'the Postgres store is closed');
    opening ??= openPool(url, options).catch((err: unknown) => {
      opening = undefined;
      throw err;
    });
    const pool = await opening;
    // A start that failed (Postgres down) is tried again by the next call: the store heals without a restart.
    ready ??= prepare(pool).catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    await ready;
    return pool;
  }

  async function prepare(pool: Pool) {
    if (options.migrate !== false) {
      await runMigrations(pool);
      return;
    }
    const version = await schemaVersion(pool);
    if (version < latestVersion)
      throw new SwitchyardError(
        'store_unavailable',
        `the database is at schema ${version}, this version needs ${latestVersion}: run switchyard migrate`,
      );
  }

  /** Runs `fn` in a transaction after checking this instance may write conversation `id` (the fence). */
  async function write<T>(id: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await (await db()).connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        await fence(client, id);
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error(String(e));
        });
        throw typed(id, err);
      }
    } finally {
      client.release(broken);
    }
  }

  /**
   * Holding a lease: the row must still carry our token. Not holding one: nobody else may hold a live lease.
   * FOR SHARE makes a concurrent takeover wait until this write commits, so the new holder loads it.
   */
  async function fence(client: PoolClient, id: string) {
    const { rows } = await client.query<{ owner: string; token: string; live: boolean }>(
      'SELECT owner, token, expires_at > clock_timestamp() AS live FROM switchyard_leases WHERE conversation_id = $1 FOR SHARE',
      [id],
    );
    const lease = rows[0];
    if (!lease) throw notFound(id);
    const token = held.get(id);
    if (token !== undefined ? lease.owner !== owner || Number(lease.token) !== token : lease.live && lease.owner !== owner) throw moved(id);
  }

  /** Postgres' refusals that mean something to a caller; anything else stays untyped (store_unavailable). */
  function typed(id: string, err: unknown): unknown {
    if (err instanceof SwitchyardError) return err;
    const state = sqlState(err);
    // Another writer stored this sequence number or this idempotency key first: this instance's view is stale.
    if (state === '23505') return moved(id, err);
    if (state === '23503') return notFound(id);
    return err;
  }

  const insert = (client: PoolClient, id: string, m: MessageRecord, status: MessageStatus = m.status) =>
    client.query(
      'INSERT INTO switchyard_messages (conversation_id, seq, role, content, tokens, turn_id, status, idempotency_key, created_at, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
      [id, m.seq, m.role, m.content, m.tokens, m.turnId, status, m.idempotencyKey, m.createdAt, messageData(m)],
    );
  const setStatus = (client: PoolClient, id: string, turnId: string, status: MessageStatus) =>
    client.query('UPDATE switchyard_messages SET status = $1 WHERE conversation_id = $2 AND turn_id = $3', [status, id, turnId]);

  return {
    owner,
    async create(c: ConversationRecord) {
      const pool = await db();
      try {
        // The lease row comes with the conversation, so every write has a row to lock.
        await pool.query(
          `WITH c AS (
             INSERT INTO switchyard_conversations (id, model, system, system_tokens, strategy, created_at, tenant, metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id)
           INSERT INTO switchyard_leases (conversation_id, owner, token, expires_at) SELECT id, '', 0, '-infinity' FROM c`,
          [c.id, c.model, c.system, c.systemTokens, c.strategy, c.createdAt, c.tenant ?? null, metadataColumn(c.metadata)],
        );
      } catch (cause) {
        if (sqlState(cause) === '23505') throw new SwitchyardError('conversation_exists', `conversation "${c.id}" exists`, { cause });
        throw cause;
      }
    },
    async load(id) {
      const pool = await db();
      const found = await pool.query<ConversationRow>('SELECT * FROM switchyard_conversations WHERE id = $1', [id]);
      const row = found.rows[0];
      if (!row) return null;
      const { rows } = await pool.query<MessageRow>('SELECT * FROM switchyard_messages WHERE conversation_id = $1 ORDER BY seq', [id]);
      return storedOf(row, rows);
    },
    async appendUser(id, message) {
      await write(id, (client) => insert(client, id, message, 'pending'));
    },
    async completeTurn(id, turnId, reply) {
      await write(id, async (client) => {
        await setStatus(client, id, turnId, 'done');
        await insert(client, id, reply, 'done');
      });
    },
    async failTurn(id, turnId, status, partial) {
      await write(id, async (client) => {
        await setStatus(client, id, turnId, status);
        if (partial) await insert(client, id, partial, status);
      });
    },
    async restartTurn(id, turnId) {
      await write(id, async (client) => {
        await client.query("DELETE FROM switchyard_messages WHERE conversation_id = $1 AND turn_id = $2 AND role = 'assistant'", [
          id,
          turnId,
        ]);
        await setStatus(client, id, turnId, 'pending');
      });
    },
    async saveSummary(id, summary) {
      await write(id, (client) =>
        client.query('UPDATE switchyard_conversations SET summary = $1, summary_tokens = $2, summary_through = $3 WHERE id = $4', [
          summary.text,
          summary.tokens,
          summary.throughSeq,
          id,
        ]),
      );
    },
    async appendMessages(id, messages) {
      await write(id, async (client) => {
        for (const m of messages) await insert(client, id, m);
      });
    },
    async setMetadata(id, metadata) {
      await write(id, (client) =>
        client.query('UPDATE switchyard_conversations SET metadata = $1 WHERE id = $2', [metadataColumn(metadata), id]),
      );
    },
    async deleteMessage(id, seq) {
      return write(id, async (client) => {
        const result = await client.query('DELETE FROM switchyard_messages WHERE conversation_id = $1 AND seq = $2', [id, seq]);
        return (result.rowCount ?? 0) > 0;
      });
    },
    async countByTenant(tenant) {
      const { rows } = await (await db()).query<{ n: string }>(
        'SELECT count(*) AS n FROM switchyard_conversations WHERE tenant IS NOT DISTINCT FROM $1',
        [tenant],
      );
      return Number(rows[0]?.n ?? 0);
    },
    async acquireLease(id, ttlMs) {
      const pool = await db();
      // The holder may release between the two queries: then try again (bounded).
      for (let attempt = 0; ; attempt++) {
        // Ours (held or released, nobody took it since): renewed with the same token. Expired: taken, token + 1.
        const { rows } = await pool.query<{ token: string }>(
          `UPDATE switchyard_leases
             SET token = CASE WHEN owner = $2 THEN token ELSE token + 1 END,
                 owner = $2,
                 expires_at = clock_timestamp() + $3 * interval '1 millisecond'
           WHERE conversation_id = $1 AND (owner = $2 OR expires_at <= clock_timestamp())
           RETURNING token`,
          [id, owner, ttlMs],
        );
        const taken = rows[0];
        if (taken) {
          held.set(id, Number(taken.token));
          return Number(taken.token);
        }
        held.delete(id);
        const other = await pool.query<{ ms: number | null }>(
          `SELECT CASE WHEN expires_at > clock_timestamp()
                    THEN ceil(extract(epoch FROM expires_at - clock_timestamp()) * 1000)::integer END AS ms
             FROM switchyard_leases WHERE conversation_id = $1`,
          [id],
        );
        const left = other.rows[0];
        if (!left) throw notFound(id);
        if (left.ms !== null || attempt >= 2) throw moved(id, undefined, left.ms ?? 0);
      }
    },
    async releaseLease(id) {
      const token = held.get(id);
      if (token === undefined) return;
      held.delete(id);
      await (await db()).query(
        "UPDATE switchyard_leases SET expires_at = '-infinity' WHERE conversation_id = $1 AND owner = $2 AND token = $3",
        [id, owner, token],
      );
    },
    async delete(id) {
      held.delete(id);
      const result = await (await db()).query('DELETE FROM switchyard_conversations WHERE id = $1', [id]);
      return (result.rowCount ?? 0) > 0;
    },
    async probe() {
      await (await db()).query('INSERT INTO switchyard_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = EXCLUDED.at', [
        Date.now(),
      ]);
    },
    async close() {
      closed = true;
      const pool = opening;
      opening = undefined;
      if (pool) await (await pool.catch(() => null))?.end();
    },
  };
}
