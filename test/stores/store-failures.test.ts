// Finding 11 of issue 14: a store that cannot write answers 503 store_unavailable (never a 500 with SQLite's own
// code), /readyz says not ready until a write succeeds, and a database file deleted under the running gateway
// is detected before a turn is acknowledged into it.

import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { createSqliteStore } from '../../src/stores/sqlite.ts';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function mock(): Promise<MockUpstream> {
  const m = await startMockUpstream();
  cleanup.push(() => m.close());
  return m;
}

function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-store-fail-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

type Answer = { status: number; body: { error?: { code: string }; status?: string; store?: string; id?: string } };
const answer = async (res: Response): Promise<Answer> => ({ status: res.status, body: (await res.json()) as Answer['body'] });

describe('store failures', () => {
  it('refuses turns with 503 store_unavailable once the database file is deleted, and /readyz says not ready', async () => {
    const m = await mock();
    const db = join(tempDir(), 'conversations.db');
    const runtime = createRuntime(
      { providers: [{ id: 'mock', baseURL: m.url, models: { chat: 'mock-model' } }] },
      { store: `sqlite:${db}` },
    );
    const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [] });
    cleanup.push(() => server.shutdown(100));
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const id = (await answer(await post('/v1/conversations', { model: 'chat' }))).body.id;
    expect((await post(`/v1/conversations/${id}/messages`, { content: 'before' })).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    for (const suffix of ['', '-wal', '-shm']) if (existsSync(db + suffix)) unlinkSync(db + suffix);
    const turn = await answer(await post(`/v1/conversations/${id}/messages`, { content: 'after' }));
    expect(turn).toMatchObject({ status: 503, body: { error: { code: 'store_unavailable' } } });
    expect(await answer(await post('/v1/conversations', { model: 'chat' }))).toMatchObject({
      status: 503,
      body: { error: { code: 'store_unavailable' } },
    });
    expect(await answer(await fetch(`${server.url}/readyz`))).toMatchObject({
      status: 503,
      body: { status: 'not_ready', store: 'unavailable' },
    });
  });

  it('answers 503 store_unavailable on a read-only database file, and /readyz says not ready', async () => {
    const m = await mock();
    const dir = tempDir();
    const db = join(dir, 'conversations.db');
    const seed = createSqliteStore(db);
    await seed.create({ id: 'c1', model: 'chat', system: null, systemTokens: 0, strategy: 'sliding', createdAt: 1, summary: null });
    await seed.close();
    // Root ignores file modes: the gateway then runs as nobody, which owns the directory but may only read the file.
    const root = process.getuid?.() === 0;
    if (root) {
      chownSync(dir, 65534, 65534);
      chownSync(db, 65534, 65534);
    }
    chmodSync(db, 0o444);
    const child = new URL('../fixtures/readonly-child.ts', import.meta.url).pathname;
    const command = root ? ['runuser', '-u', 'nobody', '--', process.execPath] : [process.execPath];
    const [bin, ...args] = [...command, child, m.url, db, 'c1'];
    // nobody must reach node and the sources: a checkout under a private folder (mktemp -d, /root) gets
    // search permission for others on its ancestors for the length of the run, and its modes back after.
    const restore = root ? openAncestors([process.execPath, child]) : () => {};
    let run: SpawnSyncReturns<string>;
    try {
      run = spawnSync(bin as string, args, { encoding: 'utf8', timeout: 20_000 });
    } finally {
      restore();
    }
    const line = run.stdout.trim().split('\n').at(-1) ?? '';
    expect(line, run.stderr).not.toBe('');
    const result = JSON.parse(line) as { turn: Answer; create: Answer; ready: Answer; read: Answer };
    expect(result.turn).toMatchObject({ status: 503, body: { error: { code: 'store_unavailable' } } });
    expect(result.create).toMatchObject({ status: 503, body: { error: { code: 'store_unavailable' } } });
    expect(result.ready).toMatchObject({ status: 503, body: { store: 'unavailable' } });
    // Reading still works: the conversation is there, without the refused turn.
    expect(result.read.status).toBe(200);
  }, 30_000);
});

/** Adds search permission for others to every ancestor folder of `paths` that lacks it; returns the undo. */
function openAncestors(paths: string[]): () => void {
  const changed = new Map<string, number>();
  for (const path of paths) {
    for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
      const mode = statSync(dir).mode & 0o7777;
      if ((mode & 0o001) === 0 && !changed.has(dir)) {
        changed.set(dir, mode);
        chmodSync(dir, mode | 0o001);
      }
    }
  }
  return () => {
    for (const [dir, mode] of changed) chmodSync(dir, mode);
  };
}
