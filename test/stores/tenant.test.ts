// Conversations carry their tenant in every store; a SQLite file from before tenants is migrated in place.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { createSqliteStore } from '../../src/stores/sqlite.ts';

const record = (id: string, tenant: string | null) => ({
  id,
  model: 'chat',
  system: null,
  systemTokens: 0,
  strategy: 'sliding' as const,
  createdAt: 1,
  summary: null,
  tenant,
});

describe('the tenant of a conversation', () => {
  it.each([
    ['memory', () => createMemoryStore()],
    ['sqlite', () => createSqliteStore(':memory:')],
  ])('is stored and loaded by the %s store', async (_name, open) => {
    const store = open();
    await store.create(record('a', 'team-a'));
    await store.create(record('b', null));
    expect((await store.load('a'))?.conversation.tenant).toBe('team-a');
    expect((await store.load('b'))?.conversation.tenant ?? null).toBeNull();
    await store.close();
  });

  it('is added as a NULL column to a SQLite file written before tenants, keeping its conversations', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'switchyard-migrate-')), 'old.db');
    // The schema as it was before tenants.
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE conversations (id TEXT PRIMARY KEY, model TEXT NOT NULL, system TEXT, system_tokens INTEGER NOT NULL,
      strategy TEXT NOT NULL, created_at INTEGER NOT NULL, summary TEXT, summary_tokens INTEGER, summary_through INTEGER)`);
    old.exec(
      `INSERT INTO conversations (id, model, system, system_tokens, strategy, created_at) VALUES ('old', 'chat', 'hi', 3, 'sliding', 1)`,
    );
    old.close();
    const store = createSqliteStore(path);
    expect((await store.load('old'))?.conversation).toMatchObject({ id: 'old', system: 'hi', tenant: null });
    await store.create(record('new', 'team-b'));
    await store.close();
    // Opening again finds the column and changes nothing.
    const again = createSqliteStore(path);
    expect((await again.load('new'))?.conversation.tenant).toBe('team-b');
    await again.close();
  });
});
