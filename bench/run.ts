// `npm run bench [-- --quick] [-- --only overhead,idle] [-- --portkey <dir>]`: figures, not pass/fail. Everything
// runs on 127.0.0.1, each server in its own process; comparisons are made side by side in one run so that a noisy
// machine affects all sides alike. Writes latest.json and latest.md to .tmp/bench/, or with `--record` to
// bench/results/ (the committed figures; a full run only). Portkey joins the overhead and idle sections when
// installed in the folder `--portkey` or SWITCHYARD_BENCH_PORTKEY names (bench/peers.ts).

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { countChatTokens, countMessageTokens } from '../src/models/tokens.ts';
import { createRuntime } from '../src/runtime.ts';
import { cluster, clusterMarkdown } from './cluster.ts';
import { conversationsCluster, conversationsClusterMarkdown } from './conversations-cluster.ts';
import { type IdleRow, idle, idleMarkdown } from './idle.ts';
import { type OutageResult, outage, outageLine } from './outage.ts';
import { type Noise, noiseNote, percentile, resultsDir, round } from './output.ts';
import { headline, overhead, overheadMarkdown } from './overhead.ts';
import { portkeyFolder, startPortkey } from './peers.ts';
import { seedConversations } from './seed.ts';
import { children, startServerProcess } from './spawn.ts';

const quick = process.argv.includes('--quick');
const output = resultsDir(process.argv);
// Negative "added" differences, shown as 0 and explained in a footnote.
const noise: Noise[] = [];
const gatewayBody = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Say something about gateways.' }] });
// Optional peer gateway (bench/peers.ts): `--portkey <dir>` or SWITCHYARD_BENCH_PORTKEY.
const portkey = portkeyFolder(process.argv);
// Every server runs in its own process (bench/spawn.ts); all are stopped at the end.
const server = startServerProcess;

async function failover() {
  const a = await server('mock');
  const b = await server('mock');
  const gateway = await server('gateway', [a.url, b.url]);
  const outcomes: { at: number; ok: boolean }[] = [];
  const ms = quick ? 4000 : 10_000;
  const start = performance.now();
  const faultAt = ms / 4;
  let faulted = 0;
  let requestsBefore = 0;
  setTimeout(async () => {
    requestsBefore = ((await (await fetch(`${a.url}/_mock/stats`)).json()) as { requests: number }).requests;
    await fetch(`${a.url}/_mock/faults`, { method: 'POST', body: JSON.stringify({ mode: 'error', status: 503 }) });
    faulted = performance.now() - start;
  }, faultAt);
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() - start < ms) {
        const res = await request(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: gatewayBody,
        }).catch(() => null);
        await res?.body.dump();
        outcomes.push({ at: performance.now() - start, ok: res?.statusCode === 200 });
      }
    }),
  );
  const reachedAfter = ((await (await fetch(`${a.url}/_mock/stats`)).json()) as { requests: number }).requests - requestsBefore;
  const failures = outcomes.filter((o) => !o.ok);
  const lastFailure = failures.length ? Math.max(...failures.map((f) => f.at)) : faulted;
  for (const s of [a, b, gateway]) s.proc.kill('SIGTERM');
  return {
    requests: outcomes.length,
    failedClientRequests: failures.length,
    msUntilAllSucceed: round(Math.max(0, lastFailure - faulted)),
    requestsToDownDeployment: reachedAfter,
  };
}

const heap = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
};

async function conversations(count: number) {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  const db = join(dir, 'bench.db');
  const ids = seedConversations(db, count);
  const runtime = createRuntime(
    { providers: [{ id: 'p', baseURL: 'http://127.0.0.1:9/v1', models: { chat: 'mock-model' } }], conversations: { idleMs: 200 } },
    { store: `sqlite:${db}` },
  );
  const base = heap();
  for (const id of ids) await runtime.conversations.activate(id);
  const active = heap();
  const perActive = (active - base) / count;
  const deadline = Date.now() + 30_000;
  while (runtime.conversations.active() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const perPassivated = (heap() - base) / count;
  const samples: number[] = [];
  for (const id of ids.slice(0, 200)) {
    const started = performance.now();
    await runtime.conversations.activate(id);
    samples.push(performance.now() - started);
  }
  await runtime.stop();
  return {
    conversations: count,
    bytesPerActive: Math.round(perActive),
    bytesPerPassivated: Math.round(perPassivated),
    restoreMsP50: round(percentile(samples, 0.5), 3),
  };
}

function tokens() {
  const message = (i: number) => ({
    role: i % 2 ? 'assistant' : 'user',
    content: `Turn ${i}: ${'a resilient gateway keeps every chat alive while providers fail '.repeat(5)}`,
  });
  const rows = [];
  countChatTokens([message(0)], 'o200k_base'); // warm the encoder up: it is created once per process
  for (const turns of [10, 100, 1000]) {
    const history = Array.from({ length: turns }, (_, i) => message(i));
    const reps = Math.max(5, Math.floor(2000 / turns));
    let started = performance.now();
    for (let r = 0; r < reps; r++) countMessageTokens(message(turns), 'o200k_base');
    const incremental = (performance.now() - started) / reps;
    started = performance.now();
    for (let r = 0; r < reps; r++) countChatTokens(history, 'o200k_base');
    const recount = (performance.now() - started) / reps;
    rows.push({ turns, incrementalMs: round(incremental, 4), recountMs: round(recount, 3) });
  }
  return rows;
}

type Sections = {
  overhead: Awaited<ReturnType<typeof overhead>>;
  idle: IdleRow[];
  failover: Awaited<ReturnType<typeof failover>>;
  outage: OutageResult;
  conversations: Awaited<ReturnType<typeof conversations>>[];
  tokens: ReturnType<typeof tokens>;
  cluster: Awaited<ReturnType<typeof cluster>>;
  conversationsCluster: Awaited<ReturnType<typeof conversationsCluster>>;
};
type Section = keyof Sections;

// Each section in the order it runs; `--only a,b` runs those alone (the report then holds only them).
const runners: { [K in Section]: () => Promise<Sections[K]> } = {
  overhead: () => overhead(quick, noise, async () => (portkey ? [await startPortkey(portkey)] : [])),
  idle: () => idle(quick, portkey),
  failover: () => failover(),
  outage: () => outage(server, quick ? 3 : 10),
  conversations: async () => [await conversations(quick ? 1000 : 10_000), ...(quick ? [] : [await conversations(100_000)])],
  tokens: async () => tokens(),
  cluster: () => cluster(quick),
  conversationsCluster: () => conversationsCluster(quick),
};

function selected(): Section[] {
  const all = Object.keys(runners) as Section[];
  const flag = process.argv.indexOf('--only');
  if (flag < 0) return all;
  const wanted = (process.argv[flag + 1] ?? '').split(',').filter(Boolean);
  const unknown = wanted.filter((w) => !all.includes(w as Section));
  if (wanted.length === 0 || unknown.length > 0) throw new Error(`--only: expected some of ${all.join(',')}, got "${wanted.join(',')}"`);
  return all.filter((s) => wanted.includes(s));
}

function markdown(results: Partial<Sections> & { date: string; machine: Record<string, unknown> }) {
  const { overhead: o, idle: i, failover: f, outage: out, conversations: c, tokens: t } = results;
  const lines = [
    `Measured ${results.date} on ${results.machine.cpus} × ${results.machine.cpu}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}${quick ? ' (--quick)' : ''}.`,
    '',
    ...(o ? [headline(o), '', ...overheadMarkdown(o), ''] : []),
    ...(i ? [...idleMarkdown(i), ''] : []),
    ...(f
      ? [
          `Failover (one of two deployments starts answering 503 under 16 concurrent clients): ${f.requests} requests, ${f.failedClientRequests} failed client requests, all succeeding again ${f.msUntilAllSucceed} ms after the fault, ${f.requestsToDownDeployment} requests reached the down deployment (the first failures and the probes).`,
          '',
        ]
      : []),
    ...(out ? [outageLine(out), ''] : []),
    ...(c
      ? [
          '| conversations | heap per active actor | heap per passivated | restore from SQLite p50 |',
          '| --- | --- | --- | --- |',
          ...c.map(
            (r) =>
              // A passivated conversation lives in SQLite: what is left on the heap is below the measurement's noise.
              `| ${r.conversations} | ${(r.bytesPerActive / 1024).toFixed(1)} KB | ${r.bytesPerPassivated <= 64 ? '≈ 0 (below noise)' : `${(r.bytesPerPassivated / 1024).toFixed(2)} KB`} | ${r.restoreMsP50} ms |`,
          ),
          '',
        ]
      : []),
    ...(t
      ? [
          '| history (turns) | count the new message | re-count the whole history |',
          '| --- | --- | --- |',
          ...t.map((r) => `| ${r.turns} | ${r.incrementalMs} ms | ${r.recountMs} ms |`),
          '',
        ]
      : []),
    ...(results.cluster ? [...clusterMarkdown(results.cluster), ''] : []),
    ...(results.conversationsCluster ? conversationsClusterMarkdown(results.conversationsCluster) : []),
    ...(noise.length > 0 ? ['', noiseNote(noise)] : []),
  ];
  return `${lines.join('\n')}\n`;
}

async function main() {
  const sections: Partial<Sections> = {};
  for (const name of selected()) Object.assign(sections, { [name]: await runners[name]() });
  const results = {
    date: new Date().toISOString(),
    quick,
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    ...sections,
    noise,
  };
  // A partial run (--only) never replaces the committed figures.
  const dir = output.recorded && process.argv.includes('--only') ? resultsDir([]).dir : output.dir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const md = markdown(results);
  writeFileSync(join(dir, 'latest.md'), md);
  console.log(md);
  console.log(
    dir === output.dir && output.recorded
      ? `Recorded in ${dir} (the committed figures).`
      : `Written to ${dir} (scratch); add -- --record to replace bench/results/ (a full run only).`,
  );
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGKILL');
}
