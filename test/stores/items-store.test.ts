// The store contract of OpenAI's Conversations API, for memory, SQLite and Postgres alike: metadata, messages
// stored together with their item ids, tool calls and the call a result answers, and one message deleted. On
// Postgres these writes are fenced like every other; an SQLite file of an older version gains the columns.

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
const pgUrl = async () => {
  if (!postgres) throw new Error('postgres did not start');
  return postgres.createDatabase(`items_${++databases}`);
};

const stores: [string, () => Promise<ConversationStore>][] = [
  ['memory', async () => createMemoryStore()],
  ['sqlite', async () => createSqliteStore(join(mkdtempSync(join(tmpdir(), 'switchyard-items-')), 'test.db'))],
  ['postgres', async () => createPostgresStore(await pgUrl())],
];

const conversation = { id: 'c1', model: 'chat', system: null, systemTokens: 0, strategy: 'sliding' as const, createdAt: 1, summary: null };
const base = { tokens: 9, turnId: 't1', status: 'done' as const, idempotencyKey: null, createdAt: 2 };
const loop: MessageRecord[] = [
  { ...base, seq: 0, role: 'user', content: 'weather?', itemId: 'msg_a' },
  {
    ...base,
    seq: 1,
    role: 'assistant',
    content: '',
    itemId: 'msg_b',
    toolCalls: [{ id: 'call_1', name: 'get', arguments: '{"q":1}', itemId: 'fc_1' }],
  },
  { ...base, seq: 2, role: 'tool', content: 'sunny', itemId: 'fco_1', toolCallId: 'call_1', turnId: 't2' },
  { ...base, seq: 3, role: 'developer', content: 'be terse', itemId: 'msg_c', turnId: 't3' },
];

describe.each(stores)('%s store: the Conversations API', (_name, make) => {
  const store = async () => {
    const s = await make();
    open.push(s);
    return s;
  };

  it('keeps metadata from create, replaces it, and clears it', async () => {
    const s = await store();
    await s.create({ ...conversation, metadata: { topic: 'a' } });
    expect((await s.load('c1'))?.conversation.metadata).toEqual({ topic: 'a' });
    await s.setMetadata?.('c1', { topic: 'b', lang: 'fr' });
    expect((await s.load('c1'))?.conversation.metadata).toEqual({ topic: 'b', lang: 'fr' });
    await s.setMetadata?.('c1', null);
    expect((await s.load('c1'))?.conversation.metadata ?? null).toBeNull();
  });

  it('stores messages together with their item ids, tool calls and answered call ids, and deletes one by sequence number', async () => {
    const s = await store();
    await s.create(conversation);
    await s.appendMessages?.('c1', loop);
    expect((await s.load('c1'))?.messages).toEqual(loop);
    expect(await s.deleteMessage?.('c1', 1)).toBe(true);
    expect(await s.deleteMessage?.('c1', 1)).toBe(false);
    expect((await s.load('c1'))?.messages.map((m) => m.seq)).toEqual([0, 2, 3]);
  });

  it('refuses writes to a conversation that does not exist', async () => {
    const s = await store();
    await expect(s.appendMessages?.('nope', loop)).rejects.toMatchObject({ code: 'conversation_not_found' });
    await expect(s.setMetadata?.('nope', { a: 'b' })).rejects.toMatchObject({ code: 'conversation_not_found' });
    await expect(s.deleteMessage?.('nope', 0)).rejects.toMatchObject({ code: 'conversation_not_found' });
  });
});

describe('Conversations API writes across instances', () => {
  it('fences item and metadata writes on Postgres: only the lease holder writes', async () => {
    const url = await pgUrl();
    const a = createPostgresStore(url);
    const b = createPostgresStore(url);
    open.push(a, b);
    await a.create(conversation);
    await a.acquireLease('c1', 30_000);
    await expect(b.appendMessages('c1', loop)).rejects.toMatchObject({ code: 'conversation_moved' });
    await expect(b.setMetadata('c1', { a: 'b' })).rejects.toMatchObject({ code: 'conversation_moved' });
    await expect(b.deleteMessage('c1', 0)).rejects.toMatchObject({ code: 'conversation_moved' });
    await a.appendMessages('c1', loop);
    expect((await b.load('c1'))?.messages).toHaveLength(loop.length);
  });

  it('adds the metadata and data columns to an SQLite file of an older version, keeping what it holds', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'switchyard-old-')), 'old.db');
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE conversations (id TEXT PRIMARY KEY, model TEXT NOT NULL, system TEXT, system_tokens INTEGER NOT NULL,
      strategy TEXT NOT NULL, created_at INTEGER NOT NULL, summary TEXT, summary_tokens INTEGER, summary_through INTEGER, tenant TEXT);
      CREATE TABLE messages (conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
      tokens INTEGER NOT NULL, turn_id TEXT NOT NULL, status TEXT NOT NULL, idempotency_key TEXT, created_at INTEGER NOT NULL,
      PRIMARY KEY (conversation_id, seq));
      INSERT INTO conversations VALUES ('old', 'chat', NULL, 0, 'sliding', 1, NULL, NULL, NULL, NULL);
      INSERT INTO messages VALUES ('old', 0, 'user', 'hello', 3, 't', 'done', NULL, 1);`);
    old.close();
    const s = createSqliteStore(path);
    open.push(s);
    const loaded = await s.load('old');
    expect(loaded?.messages.map((m) => [m.content, m.itemId])).toEqual([['hello', undefined]]);
    await s.setMetadata?.('old', { kept: 'yes' });
    await s.appendMessages?.('old', [{ ...loop[1], seq: 1 } as MessageRecord]);
    const after = await s.load('old');
    expect(after?.conversation.metadata).toEqual({ kept: 'yes' });
    expect(after?.messages[1]?.toolCalls).toEqual(loop[1]?.toolCalls);
  });
});
