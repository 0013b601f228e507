// The conversations-across-instances section of `npm run bench`: what a Postgres store costs a turn against
// SQLite (one gateway process, one client, turns one after another), how long restoring (activating) a
// passivated conversation takes from each store, and how many turns per second two gateway processes on one
// Postgres serve together against one alone. Postgres is the test helper's own cluster on a free loopback port.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createRuntime } from '../src/runtime.ts';
import { openStore } from '../src/stores/index.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { percentile, round } from './output.ts';
import { startServerProcess } from './spawn.ts';

const json = { 'content-type': 'application/json' };

async function createConversation(url: string): Promise<string> {
  const res = await request(`${url}/v1/conversations`, { method: 'POST', headers: json, body: JSON.stringify({ model: 'chat' }) });
  return ((await res.body.json()) as { id: string }).id;
}

/** One turn, retried (bounded) while another instance holds the conversation; whether it was answered. */
async function turn(url: string, id: string, n: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    const res = await request(`${url}/v1/conversations/${id}/messages`, {
      method: 'POST',
      headers: { ...json, 'idempotency-key': `${id}:${n}` },
      body: JSON.stringify({ content: `Turn ${n}: how do gateways keep conversations?` }),
    }).catch(() => null);
    await res?.body.dump();
    if (res?.statusCode === 200) return true;
    if (res?.statusCode !== 409) return false;
  }
  return false;
}

/** Turns one after another on `conversations` conversations (round robin) through one gateway on `store`. */
async function turnLatency(mock: string, store: string, conversations: number, turns: number) {
  const gateway = await startServerProcess('gateway', [mock], { BENCH_STORE: store });
  const ids = await Promise.all(Array.from({ length: conversations }, () => createConversation(gateway.url)));
  for (const id of ids) await turn(gateway.url, id, -1); // warm-up: pools, statements, actors
  const samples: number[] = [];
  for (let n = 0; n < turns; n++) {
    const id = ids[n % ids.length] ?? '';
    const started = performance.now();
    if (await turn(gateway.url, id, n)) samples.push(performance.now() - started);
  }
  gateway.proc.kill('SIGTERM');
  return { turns: samples.length, p50: round(percentile(samples, 0.5), 3), p99: round(percentile(samples, 0.99), 3) };
}

/** Activation of passivated conversations of `turns` answered turns each: lease (Postgres) and load. */
async function restore(store: string, conversations: number, turns: number) {
  const seed = openStore(store);
  const ids: string[] = [];
  for (let c = 0; c < conversations; c++) {
    const id = crypto.randomUUID();
    ids.push(id);
    await seed.create({ id, model: 'chat', system: null, systemTokens: 0, strategy: 'sliding', createdAt: Date.now(), summary: null });
    for (let t = 0; t < turns; t++) {
      const turnId = crypto.randomUUID();
      const at = Date.now();
      const base = { tokens: 20, turnId, idempotencyKey: null, createdAt: at };
      await seed.appendUser(id, { ...base, seq: 2 * t, role: 'user', content: `Question ${t} about gateways?`, status: 'pending' });
      await seed.completeTurn(id, turnId, { ...base, seq: 2 * t + 1, role: 'assistant', content: 'Gateways fail over.', status: 'done' });
    }
  }
  await seed.close();
  const runtime = createRuntime({ providers: [{ id: 'p', baseURL: 'http://127.0.0.1:9/v1', models: { chat: 'mock-model' } }] }, { store });
  const samples: number[] = [];
  for (const id of ids) {
    const started = performance.now();
    await runtime.conversations.activate(id);
    samples.push(performance.now() - started);
  }
  await runtime.stop();
  return { conversations, turns, p50: round(percentile(samples, 0.5), 3), p99: round(percentile(samples, 0.99), 3) };
}

/** Closed loop: `clients` clients, each on its own conversation, each turn to the next instance, for `ms`. */
async function throughput(mock: string, store: string, instances: number, clients: number, ms: number) {
  const gateways = await Promise.all(
    Array.from({ length: instances }, () => startServerProcess('gateway', [mock], { BENCH_STORE: store })),
  );
  const urls = gateways.map((g) => g.url);
  // Every client's conversation exists and has had a turn on every instance before the clock starts: the
  // first turns pay for tokenizer, pool and statement warm-up, not for the store.
  const ids = await Promise.all(Array.from({ length: clients }, (_, c) => createConversation(urls[c % urls.length] ?? '')));
  for (const [i, url] of urls.entries()) await Promise.all(ids.map((id) => turn(url, id, -1 - i)));
  let answered = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    ids.map(async (id, c) => {
      for (let n = 0; performance.now() - started < ms; n++) {
        if (await turn(urls[(c + n) % urls.length] ?? '', id, n)) answered++;
        else failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const g of gateways) g.proc.kill('SIGTERM');
  return { instances, clients, turnsPerSecond: Math.round(answered / seconds), failed };
}

export async function conversationsCluster(quick: boolean) {
  const pg = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-conv-'));
  const mock = await startServerProcess('mock');
  try {
    const [latencyDb, restoreDb, throughputDb] = await Promise.all(
      ['bench_latency', 'bench_restore', 'bench_throughput'].map((n) => pg.createDatabase(n)),
    );
    const turns = quick ? 100 : 1000;
    const clients = quick ? 8 : 32;
    const ms = quick ? 3000 : 8000;
    const restored = quick ? 50 : 500;
    return {
      latency: {
        sqlite: await turnLatency(mock.url, `sqlite:${join(dir, 'latency.db')}`, 10, turns),
        postgres: await turnLatency(mock.url, latencyDb ?? '', 10, turns),
      },
      restore: {
        sqlite: await restore(`sqlite:${join(dir, 'restore.db')}`, restored, 10),
        postgres: await restore(restoreDb ?? '', restored, 10),
      },
      throughput: {
        one: await throughput(mock.url, throughputDb ?? '', 1, clients, ms),
        two: await throughput(mock.url, throughputDb ?? '', 2, clients, ms),
      },
    };
  } finally {
    mock.proc.kill('SIGTERM');
    await pg.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function conversationsClusterMarkdown(c: Awaited<ReturnType<typeof conversationsCluster>>): string[] {
  const l = c.latency;
  return [
    'Conversations across instances (Postgres 15 on loopback, fsync off as in the tests; SQLite on the local disk):',
    '',
    '| | SQLite | Postgres | added by Postgres |',
    '| --- | --- | --- | --- |',
    `| turn latency p50 / p99, one client, ${l.postgres.turns} turns (lease, write-ahead, reply, release) | ${l.sqlite.p50} / ${l.sqlite.p99} ms | ${l.postgres.p50} / ${l.postgres.p99} ms | ${round(l.postgres.p50 - l.sqlite.p50, 3)} / ${round(l.postgres.p99 - l.sqlite.p99, 3)} ms |`,
    `| restore (activate) a passivated conversation of ${c.restore.postgres.turns} turns, p50 / p99 (${c.restore.postgres.conversations} conversations) | ${c.restore.sqlite.p50} / ${c.restore.sqlite.p99} ms | ${c.restore.postgres.p50} / ${c.restore.postgres.p99} ms | ${round(c.restore.postgres.p50 - c.restore.sqlite.p50, 3)} / ${round(c.restore.postgres.p99 - c.restore.sqlite.p99, 3)} ms |`,
    '',
    `Turns per second on one Postgres, ${c.throughput.two.clients} clients each on its own conversation, each turn to the next instance: one gateway process ${c.throughput.one.turnsPerSecond} (${c.throughput.one.failed} failed), two gateway processes ${c.throughput.two.turnsPerSecond} (${c.throughput.two.failed} failed).`,
  ];
}

// `node bench/conversations-cluster.ts [--quick]` runs this section alone.
if (import.meta.main) {
  try {
    console.log(conversationsClusterMarkdown(await conversationsCluster(process.argv.includes('--quick'))).join('\n'));
  } finally {
    const { children } = await import('./spawn.ts');
    for (const child of children) child.kill('SIGKILL');
  }
}
