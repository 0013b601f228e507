// Two gateway processes (`switchyard serve`) on one Postgres: one is SIGKILLed in the middle of a turn, and a
// retry with the same idempotency key through the other completes that turn once its lease expires.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { pollUntil, waitUntil } from '../helpers/wait.ts';

const bin = new URL('../../bin/switchyard.js', import.meta.url).pathname;
let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.destroy();
});
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function mock(latencyMs: number): Promise<MockUpstream> {
  const m = await startMockUpstream({ latencyMs });
  cleanup.push(() => m.close());
  return m;
}

/** A gateway process over `upstream` on the shared store; resolves with its base URL once it listens. */
async function gateway(upstream: MockUpstream, store: string): Promise<{ url: string; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-gw-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'switchyard.yaml');
  // A short lease, so that the test waits about a second for the killed instance's lease to expire.
  writeFileSync(
    config,
    `providers:\n  - id: p\n    baseURL: ${upstream.url}\n    models: { chat: mock-model }\nconversations:\n  leaseMs: 1000\n`,
  );
  const child = spawn(process.execPath, [bin, 'serve', '--config', config, '--port', '0', '--store', store], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanup.push(() => child.kill('SIGKILL'));
  let stdout = '';
  child.stdout?.on('data', (d) => (stdout += d));
  await waitUntil(() => /switchyard listening: (\S+)\/v1/.test(stdout), 20_000);
  return { url: /switchyard listening: (\S+)\/v1/.exec(stdout)?.[1] ?? '', child };
}

const post = (base: string, id: string, content: string, key: string) =>
  fetch(`${base}/v1/conversations/${id}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ content }),
  });
interface StoredMessage {
  role: string;
  content: string;
  status: string;
}
const messages = async (base: string, id: string) =>
  ((await (await fetch(`${base}/v1/conversations/${id}`)).json()) as { switchyard: { messages: StoredMessage[] } }).switchyard.messages;

describe('conversations on Postgres: an instance killed mid-turn', () => {
  it('completes the pending turn exactly once on a same-key retry through the other instance', async () => {
    const store = await server.createDatabase('failover');
    const [a, b] = await Promise.all([mock(60_000).then((m) => gateway(m, store)), mock(0).then((m) => gateway(m, store))]);
    const created = (await (
      await fetch(`${b.url}/v1/conversations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat' }),
      })
    ).json()) as { id: string };
    expect((await post(b.url, created.id, 'first', 'k1')).status).toBe(200);
    // A stores the user message (write-ahead) and waits for its slow upstream: then it dies.
    const doomed = post(a.url, created.id, 'second', 'k2').catch((err: unknown) => err);
    await pollUntil(
      () => messages(b.url, created.id),
      (m) => m.some((x) => x.content === 'second' && x.status === 'pending'),
      10_000,
    );
    a.child.kill('SIGKILL');
    await once(a.child, 'exit');
    expect(await doomed).toBeInstanceOf(Error);
    // B refuses while A's lease lives (409, retryable), then completes the turn A stored.
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await post(b.url, created.id, 'second', 'k2');
      statuses.push(res.status);
      if (res.status !== 409) break;
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('conversation_moved');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(statuses.at(-1)).toBe(200);
    const stored = await messages(b.url, created.id);
    expect(stored.map((m) => `${m.role}:${m.content === 'first' || m.content === 'second' ? m.content : '…'}:${m.status}`)).toEqual([
      'user:first:done',
      'assistant:…:done',
      'user:second:done',
      'assistant:…:done',
    ]);
  }, 60_000);
});
