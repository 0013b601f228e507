// The Postgres store against a real Postgres 15: two instances (two pools, as two gateways) on one database,
// the fence between them, migrations under concurrency, and a restart of Postgres under a running store.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { trackStore } from '../../src/stores/health.ts';
import { openStore, postgresSpec } from '../../src/stores/index.ts';
import { createPostgresStore, openPool, type PostgresStoreOptions } from '../../src/stores/postgres.ts';
import { latestVersion, runMigrations } from '../../src/stores/postgres-migrations.ts';
import type { ConversationStore, MessageRecord } from '../../src/stores/types.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.destroy();
});

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let databases = 0;
const database = () => server.createDatabase(`pg_${++databases}`);
const store = (url: string, options: PostgresStoreOptions = {}) => {
  const s = createPostgresStore(url, options);
  cleanup.push(() => s.close());
  return s;
};

const conversation = (id: string) => ({
  id,
  model: 'chat',
  system: null,
  systemTokens: 0,
  strategy: 'sliding' as const,
  createdAt: 1,
  summary: null,
});
const message = (seq: number, role: 'user' | 'assistant', turnId: string, over: Partial<MessageRecord> = {}): MessageRecord => ({
  seq,
  role,
  content: `${role} ${seq}`,
  tokens: 5,
  turnId,
  status: role === 'user' ? 'pending' : 'done',
  idempotencyKey: null,
  createdAt: seq,
  ...over,
});
const history = async (s: ConversationStore, id: string) =>
  (await s.load(id))?.messages.map((m) => `${m.seq}:${m.role}:${m.turnId}:${m.status}`);

describe('postgres store: one writer per conversation', () => {
  it('rejects the writes of an instance whose lease another instance took (the fence)', async () => {
    const url = await database();
    const a = store(url);
    const b = store(url);
    await a.create(conversation('c1'));
    // A's lease expires at once (ttl 0): B may take it over, as after a pause of A longer than its lease.
    const first = await a.acquireLease('c1', 0);
    await a.appendUser('c1', message(0, 'user', 't1'));
    const second = await b.acquireLease('c1', 60_000);
    expect(second).toBeGreaterThan(first);
    await expect(a.completeTurn('c1', 't1', message(1, 'assistant', 't1'))).rejects.toMatchObject({
      code: 'conversation_moved',
      status: 409,
      retryable: true,
    });
    await expect(a.appendUser('c1', message(1, 'user', 't2'))).rejects.toMatchObject({ code: 'conversation_moved' });
    // B loaded after taking the lease: it sees A's write-ahead message and finishes that turn itself.
    expect(await history(b, 'c1')).toEqual(['0:user:t1:pending']);
    await b.completeTurn('c1', 't1', message(1, 'assistant', 't1'));
    expect(await history(a, 'c1')).toEqual(['0:user:t1:done', '1:assistant:t1:done']);
  });

  it('gives a contested lease to exactly one of two instances; the other learns how long to wait', async () => {
    const url = await database();
    const a = store(url);
    const b = store(url);
    await a.create(conversation('c1'));
    const results = await Promise.allSettled([a.acquireLease('c1', 60_000), b.acquireLease('c1', 60_000)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected');
    expect(refused?.reason).toMatchObject({ code: 'conversation_moved' });
    expect(refused?.reason.retryAfterMs).toBeGreaterThan(50_000);
  });

  it('refuses a write without a lease while another instance holds one, and allows it once released', async () => {
    const url = await database();
    const a = store(url);
    const b = store(url);
    await a.create(conversation('c1'));
    await a.acquireLease('c1', 60_000);
    await expect(b.appendUser('c1', message(0, 'user', 't1'))).rejects.toMatchObject({ code: 'conversation_moved' });
    await a.releaseLease('c1');
    await b.appendUser('c1', message(0, 'user', 't1'));
    // A took it back after B wrote: a new token, so A knows its memory of the conversation is stale.
    expect(await history(a, 'c1')).toEqual(['0:user:t1:pending']);
  });

  it('keeps the history one chain when two instances without leases write the same place at once', async () => {
    const url = await database();
    const a = store(url);
    const b = store(url);
    await a.create(conversation('c1'));
    const results = await Promise.allSettled([a.appendUser('c1', message(0, 'user', 'ta')), b.appendUser('c1', message(0, 'user', 'tb'))]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'conversation_moved' } });
    expect(await history(a, 'c1')).toHaveLength(1);
  });

  it('stores an idempotency key once per conversation, whichever instance the retry reaches', async () => {
    const url = await database();
    const a = store(url);
    const b = store(url);
    await a.create(conversation('c1'));
    await a.create(conversation('c2'));
    await a.appendUser('c1', message(0, 'user', 't1', { idempotencyKey: 'k' }));
    await expect(b.appendUser('c1', message(1, 'user', 't2', { idempotencyKey: 'k' }))).rejects.toMatchObject({
      code: 'conversation_moved',
    });
    // The same key in another conversation is another turn.
    await b.appendUser('c2', message(0, 'user', 't3', { idempotencyKey: 'k' }));
    expect(await history(b, 'c1')).toEqual(['0:user:t1:pending']);
  });
});

describe('postgres store: migrations', () => {
  it('applies each migration once when two instances start at the same time', async () => {
    const url = await database();
    const pools = await Promise.all([openPool(url), openPool(url)]);
    cleanup.push(() => Promise.all(pools.map((p) => p.end())));
    const applied = await Promise.all(pools.map((p) => runMigrations(p)));
    expect(applied.flat().sort()).toEqual([...Array(latestVersion).keys()].map((i) => i + 1));
    const { rows } = await pools[0].query<{ n: string }>('SELECT count(*) AS n FROM switchyard_migrations');
    expect(Number(rows[0]?.n)).toBe(latestVersion);
    // Two stores opening together both come up.
    const [a, b] = [store(url), store(url)];
    await Promise.all([a.probe(), b.probe()]);
  });

  it('leaves migrations to `switchyard migrate` when told, and refuses to run on an older schema', async () => {
    const url = await database();
    const s = store(url, { migrate: false });
    await expect(s.probe()).rejects.toMatchObject({ code: 'store_unavailable', message: /run switchyard migrate/ });
    const pool = await openPool(url);
    cleanup.push(() => pool.end());
    await runMigrations(pool);
    await s.probe();
  });
});

describe('postgres store: availability', () => {
  it('fails with 503 store_unavailable while Postgres is down and heals when it is back, without a new store', async () => {
    const url = await database();
    const tracked = trackStore(store(url));
    const s = tracked.store;
    await s.create(conversation('c1'));
    await s.appendUser('c1', message(0, 'user', 't1'));
    await server.stop();
    let restarted = false;
    cleanup.push(async () => {
      if (!restarted) await server.start();
    });
    const down = s.completeTurn('c1', 't1', message(1, 'assistant', 't1'));
    await expect(down).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
    await expect(s.load('c1')).rejects.toMatchObject({ code: 'store_unavailable' });
    expect((await tracked.status()).writable).toBe(false);
    await server.start();
    restarted = true;
    await s.completeTurn('c1', 't1', message(1, 'assistant', 't1'));
    expect((await tracked.status()).writable).toBe(true);
    // Only what was acknowledged is stored: the failed write left nothing behind.
    expect(await history(s, 'c1')).toEqual(['0:user:t1:done', '1:assistant:t1:done']);
  });

  it('comes up once Postgres does when it was down at start', async () => {
    const url = await database();
    await server.stop();
    let restarted = false;
    cleanup.push(async () => {
      if (!restarted) await server.start();
    });
    const s = store(url);
    await expect(s.probe()).rejects.toBeDefined();
    await server.start();
    restarted = true;
    await s.create(conversation('c1'));
    expect(await s.load('c1')).not.toBeNull();
  });
});

describe('postgres store spec', () => {
  it('opens from a postgres:// URL, with migrate=false passed on as an option and stripped from the URL', async () => {
    expect(postgresSpec('postgres://u:p@h:5/db?migrate=false&sslmode=disable')).toEqual({
      url: 'postgres://u:p@h:5/db?sslmode=disable',
      migrate: false,
    });
    expect(() => postgresSpec('postgres://h/db?migrate=maybe')).toThrow(expect.objectContaining({ code: 'invalid_config' }));
    const s = openStore(server.url());
    cleanup.push(() => s.close());
    await s.probe?.();
  });

  it('does not echo a password in its refusal of a malformed URL', () => {
    let refusal: unknown;
    try {
      postgresSpec('postgres://user:secret@[bad');
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toMatchObject({ code: 'invalid_config' });
    expect(String(refusal)).not.toContain('secret');
  });
});

describe('switchyard migrate', () => {
  const bin = new URL('../../bin/switchyard.js', import.meta.url).pathname;
  const cli = (args: string[]) =>
    promisify(execFile)(process.execPath, [bin, ...args], { timeout: 30_000 }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  it('applies the migrations a database lacks, then finds nothing to do', async () => {
    const url = await database();
    expect(await cli(['migrate', '--store', url])).toMatchObject({
      code: 0,
      stdout: `applied migrations ${[...Array(latestVersion).keys()].map((i) => i + 1).join(', ')}: schema at version ${latestVersion}\n`,
    });
    expect(await cli(['migrate', '--store', url])).toMatchObject({ code: 0, stdout: expect.stringContaining('nothing to apply') });
    // A gateway that leaves migrations to the command runs on what it applied.
    const s = store(url, { migrate: false });
    await s.create(conversation('c1'));
  });

  it('refuses a store that is not Postgres', async () => {
    const result = await cli(['migrate', '--store', 'sqlite:./x.db']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('migrate needs a postgres:// URL');
  });
});
