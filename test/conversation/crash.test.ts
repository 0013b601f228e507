import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { createSqliteStore } from '../../src/stores/sqlite.ts';
import { waitUntil } from '../helpers/wait.ts';

const child = new URL('../fixtures/crash-child.ts', import.meta.url).pathname;
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function run(args: string[]) {
  const proc: ChildProcess = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.push(() => proc.kill('SIGKILL'));
  const lines: string[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => lines.push(line));
  return { proc, lines };
}

describe('crash safety on SQLite', () => {
  it('keeps every acknowledged turn when the process is killed mid-turn, and marks the interrupted turn pending', async () => {
    // The upstream answers slowly, so that a turn is surely in flight when the process dies.
    const mock: MockUpstream = await startMockUpstream({ latencyMs: 150 });
    cleanup.push(() => mock.close());
    const db = join(mkdtempSync(join(tmpdir(), 'switchyard-crash-')), 'crash.db');

    const { proc, lines } = run([mock.url, db, 'new', '10']);
    await waitUntil(() => lines.includes('ack 2'), 15_000);
    // Turn 3's user message is written before the upstream is called: wait until the call is in flight.
    await waitUntil(() => mock.stats().inFlight === 1, 5000);
    proc.kill('SIGKILL');
    await new Promise((resolve) => proc.once('exit', resolve));
    const acked = lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
    const id = lines.find((l) => l.startsWith('conversation '))?.slice('conversation '.length) ?? '';

    // A new process opens the store: every acknowledged turn is there, the interrupted one is pending.
    const store = createSqliteStore(db);
    const stored = await store.load(id);
    await store.close();
    const users = stored?.messages.filter((m) => m.role === 'user') ?? [];
    for (const n of acked) {
      const user = users.find((m) => m.content === `turn ${n}`);
      expect(user?.status).toBe('done');
      expect(stored?.messages.some((m) => m.role === 'assistant' && m.turnId === user?.turnId)).toBe(true);
    }
    const interrupted = users.find((m) => m.content === `turn ${acked.length}`);
    expect(interrupted?.status).toBe('pending');

    // The runtime reports it, and a retry with the same idempotency key completes it without a duplicate.
    const runtime = createRuntime(
      { providers: [{ id: 'mock', baseURL: mock.url, models: { chat: 'mock-model' } }] },
      { store: `sqlite:${db}` },
    );
    cleanup.push(() => runtime.stop());
    expect((await runtime.conversations.get(id)).pending).toEqual([{ turnId: interrupted?.turnId, content: `turn ${acked.length}` }]);
    const retried = await runtime.conversations.post(id, `turn ${acked.length}`, { idempotencyKey: `turn-${acked.length}` });
    expect(retried.turnId).toBe(interrupted?.turnId);
    const after = await runtime.conversations.get(id);
    expect(after.pending).toEqual([]);
    expect(after.messages.filter((m) => m.role === 'user')).toHaveLength(acked.length + 1);
  }, 30_000);
});

describe('crash safety under load', () => {
  it('keeps every acknowledged turn of many concurrent conversations when the process is killed with SIGKILL', async () => {
    const mock: MockUpstream = await startMockUpstream({ latencyMs: 20 });
    cleanup.push(() => mock.close());
    const db = join(mkdtempSync(join(tmpdir(), 'switchyard-load-')), 'load.db');
    const script = new URL('../fixtures/load-child.ts', import.meta.url).pathname;
    const proc: ChildProcess = spawn(process.execPath, [script, mock.url, db, '12'], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.push(() => proc.kill('SIGKILL'));
    const lines: string[] = [];
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => lines.push(line));
    await waitUntil(() => lines.length >= 60, 20_000);
    proc.kill('SIGKILL');
    await new Promise((resolve) => proc.once('exit', resolve));

    const store = createSqliteStore(db);
    const acked = lines.filter((l) => l.startsWith('ack ')).map((l) => l.split(' '));
    for (const [, id, ...content] of acked) {
      const messages = (await store.load(id ?? ''))?.messages ?? [];
      const user = messages.filter((m) => m.role === 'user' && m.content === content.join(' '));
      expect(user).toHaveLength(1);
      expect(user[0]?.status).toBe('done');
      expect(messages.some((m) => m.role === 'assistant' && m.turnId === user[0]?.turnId)).toBe(true);
    }
    await store.close();
    expect(acked.length).toBeGreaterThanOrEqual(60);
  }, 40_000);
});
