import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { createPostgresStore } from '../../src/stores/postgres.ts';
import { createSqliteStore } from '../../src/stores/sqlite.ts';
import type { ConversationStore, MessageRecord } from '../../src/stores/types.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';

const open: ConversationStore[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

let postgres: TestPostgres | undefined;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.destroy();
});
let databases = 0;

const stores: [string, () => Promise<ConversationStore>][] = [
  ['memory', async () => createMemoryStore()],
  ['sqlite', async () => createSqliteStore(join(mkdtempSync(join(tmpdir(), 'switchyard-store-')), 'test.db'))],
  [
    'postgres',
    async () => {
      if (!postgres) throw new Error('postgres did not start');
      return createPostgresStore(await postgres.createDatabase(`contract_${++databases}`));
    },
  ],
];

const conversation = (id: string) => ({
  id,
  model: 'chat',
  system: 'Be brief.',
  systemTokens: 7,
  strategy: 'sliding' as const,
  createdAt: 1,
  summary: null,
});
const message = (seq: number, role: 'user' | 'assistant', turnId: string, over: Partial<MessageRecord> = {}): MessageRecord => ({
  seq,
  role,
  content: `${role} ${seq}`,
  tokens: 5 + seq,
  turnId,
  status: 'pending',
  idempotencyKey: null,
  createdAt: seq,
  ...over,
});

describe.each(stores)('%s store', (_name, make) => {
  const store = async () => {
    const s = await make();
    open.push(s);
    return s;
  };

  it('stores a turn write-ahead: the user message pending, then done with its reply', async () => {
    const s = await store();
    await s.create(conversation('c1'));
    await s.appendUser('c1', message(0, 'user', 't1', { idempotencyKey: 'k1' }));
    expect((await s.load('c1'))?.messages.map((m) => [m.role, m.status])).toEqual([['user', 'pending']]);
    await s.completeTurn('c1', 't1', message(1, 'assistant', 't1', { status: 'done' }));
    const loaded = await s.load('c1');
    expect(loaded?.messages.map((m) => [m.role, m.status, m.tokens])).toEqual([
      ['user', 'done', 5],
      ['assistant', 'done', 6],
    ]);
    expect(loaded?.messages[0]?.idempotencyKey).toBe('k1');
    expect(loaded?.conversation).toMatchObject({ system: 'Be brief.', systemTokens: 7, summary: null });
  });

  it('marks a failed turn and keeps a partial reply as interrupted', async () => {
    const s = await store();
    await s.create(conversation('c1'));
    await s.appendUser('c1', message(0, 'user', 't1'));
    await s.failTurn('c1', 't1', 'interrupted', message(1, 'assistant', 't1'));
    expect((await s.load('c1'))?.messages.map((m) => m.status)).toEqual(['interrupted', 'interrupted']);
  });

  it('restarts an interrupted turn: its partial reply deleted, its user message pending again', async () => {
    const s = await store();
    await s.create(conversation('c1'));
    await s.appendUser('c1', message(0, 'user', 't1'));
    await s.failTurn('c1', 't1', 'interrupted', message(1, 'assistant', 't1'));
    await s.restartTurn('c1', 't1');
    expect((await s.load('c1'))?.messages.map((m) => [m.role, m.status])).toEqual([['user', 'pending']]);
    await s.completeTurn('c1', 't1', message(2, 'assistant', 't1', { status: 'done' }));
    expect((await s.load('c1'))?.messages.map((m) => [m.role, m.status])).toEqual([
      ['user', 'done'],
      ['assistant', 'done'],
    ]);
  });

  it('counts conversations per tenant, those without one apart', async () => {
    const s = await store();
    await s.create({ ...conversation('a1'), tenant: 'a' });
    await s.create({ ...conversation('a2'), tenant: 'a' });
    await s.create(conversation('n1'));
    expect([await s.countByTenant('a'), await s.countByTenant('b'), await s.countByTenant(null)]).toEqual([2, 0, 1]);
    await s.delete('a1');
    expect(await s.countByTenant('a')).toBe(1);
  });

  it('saves the running summary', async () => {
    const s = await store();
    await s.create(conversation('c1'));
    await s.saveSummary('c1', { text: 'they talked', tokens: 9, throughSeq: 3 });
    expect((await s.load('c1'))?.conversation.summary).toEqual({ text: 'they talked', tokens: 9, throughSeq: 3 });
  });

  it('refuses a second conversation with the same id and writes to an unknown one', async () => {
    const s = await store();
    await s.create(conversation('c1'));
    await expect(s.create(conversation('c1'))).rejects.toMatchObject({ code: 'conversation_exists' });
    await expect(s.appendUser('nope', message(0, 'user', 't'))).rejects.toMatchObject({ code: 'conversation_not_found' });
  });

  it('lends its write lease to this store: the same token on renewal, none for an unknown conversation', async () => {
    const s = await store();
    await s.create(conversation('c1'));
    const token = await s.acquireLease?.('c1', 60_000);
    expect(token).toBeTypeOf('number');
    await s.appendUser('c1', message(0, 'user', 't1'));
    expect(await s.acquireLease?.('c1', 60_000)).toBe(token);
    await s.releaseLease?.('c1');
    expect(await s.acquireLease?.('c1', 60_000)).toBe(token);
    await expect(s.acquireLease?.('nope', 60_000)).rejects.toMatchObject({ code: 'conversation_not_found' });
  });

  it('deletes a conversation with its messages', async () => {
    const s = await store();
    await s.create(conversation('c1'));
    await s.appendUser('c1', message(0, 'user', 't1'));
    expect(await s.delete('c1')).toBe(true);
    expect(await s.load('c1')).toBeNull();
    expect(await s.delete('c1')).toBe(false);
  });
});

describe('sqlite store', () => {
  it('runs in WAL mode and keeps what it wrote across a reopen', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'switchyard-store-')), 'wal.db');
    const first = createSqliteStore(path);
    await first.create(conversation('c1'));
    await first.appendUser('c1', message(0, 'user', 't1'));
    await first.close();
    const db = new DatabaseSync(path);
    expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    db.close();
    const second = createSqliteStore(path);
    open.push(second);
    expect((await second.load('c1'))?.messages).toHaveLength(1);
  });
});
