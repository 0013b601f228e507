// `npm run bench [-- --quick]`: figures, not pass/fail. Everything runs on 127.0.0.1, each server in its own
// process; comparisons are made side by side in one run so that a noisy machine affects all sides alike.
// Writes latest.json and latest.md to .tmp/bench/, or with `--record` to bench/results/ (the committed figures).

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { request } from 'undici';
import { countChatTokens, countMessageTokens } from '../src/models/tokens.ts';
import { createRuntime } from '../src/runtime.ts';
import { cluster, clusterMarkdown } from './cluster.ts';
import { conversationsCluster, conversationsClusterMarkdown } from './conversations-cluster.ts';
import { outage, outageLine } from './outage.ts';
import { addedMs, type Noise, noiseNote, percentile, resultsDir, round } from './output.ts';
import { seedConversations } from './seed.ts';
import { children, startServerProcess } from './spawn.ts';

const quick = process.argv.includes('--quick');
const output = resultsDir(process.argv);
// Negative "added" differences, shown as 0 and explained in a footnote.
const noise: Noise[] = [];
const seconds = quick ? 3 : 5;
const body = JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'Say something about gateways.' }] });
const gatewayBody = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Say something about gateways.' }] });
// Every server runs in its own process (bench/spawn.ts); all are stopped at the end.
const server = startServerProcess;

interface Load {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
}

async function load(url: string, payload: string, connections: number, duration = seconds): Promise<Load> {
  const result = await autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: payload,
    connections,
    duration,
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

/** Concurrent streaming requests for `ms`: time to the first content chunk, and errors. */
async function streamLoad(url: string, payload: string, concurrency: number, ms: number) {
  const ttft: number[] = [];
  let errors = 0;
  const until = performance.now() + ms;
  const streamBody = JSON.stringify({ ...JSON.parse(payload), stream: true });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        try {
          const res = await request(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: streamBody,
          });
          let first = true;
          for await (const chunk of res.body) {
            if (first && /"content":"\S/.test(chunk.toString())) {
              ttft.push(performance.now() - started);
              first = false;
            }
          }
          if (res.statusCode !== 200) errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { requests: ttft.length, ttftP50: round(percentile(ttft, 0.5)), ttftP99: round(percentile(ttft, 0.99)), errors };
}

/** The median of each figure over several rounds (rounds alternate between the targets, so drift hits all). */
function medianLoad(runs: Load[]): Load {
  const mid = (pick: (l: Load) => number) => percentile(runs.map(pick), 0.5);
  return {
    rps: mid((l) => l.rps),
    p50: mid((l) => l.p50),
    p90: mid((l) => l.p90),
    p99: mid((l) => l.p99),
    errors: runs.reduce((n, l) => n + l.errors, 0),
  };
}

/** One connection, one request after another, timed in microseconds (autocannon's percentiles are whole ms). */
async function sequential(url: string, payload: string, count: number) {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const res = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: payload,
    });
    await res.body.dump();
    if (res.statusCode === 200) samples.push(performance.now() - started);
  }
  return { requests: samples.length, p50: round(percentile(samples, 0.5), 3), p99: round(percentile(samples, 0.99), 3) };
}

async function overhead() {
  const mock = await server('mock');
  const proxy = await server('proxy', [`${mock.url}/v1`]);
  const gateway = await server('gateway', [mock.url]);
  const targets = [
    { url: mock.url, payload: body },
    { url: proxy.url, payload: body },
    { url: gateway.url, payload: gatewayBody },
  ];
  // Warm-up, not measured: JIT, connection pools and the mock's own caches reach their steady state.
  for (const t of targets) await load(t.url, t.payload, 64, quick ? 1 : 3);
  const rounds = quick ? 1 : 3;
  const rows = [];
  for (const connections of quick ? [1, 64] : [1, 64, 256]) {
    const runs: Load[][] = [[], [], []];
    for (let r = 0; r < rounds; r++) for (const [i, t] of targets.entries()) runs[i]?.push(await load(t.url, t.payload, connections));
    const [direct, bare, through] = runs.map(medianLoad) as [Load, Load, Load];
    rows.push({
      connections,
      direct,
      bare,
      through,
      addedP50: addedMs(`added p50 at ${connections} connections`, through.p50, direct.p50, noise),
      addedP99: addedMs(`added p99 at ${connections} connections`, through.p99, direct.p99, noise),
      bareAddedP50: addedMs(`bare proxy added p50 at ${connections} connections`, bare.p50, direct.p50, noise),
      bareAddedP99: addedMs(`bare proxy added p99 at ${connections} connections`, bare.p99, direct.p99, noise),
    });
  }
  const count = quick ? 500 : 2000;
  const [seqDirect, seqBare, seqThrough] = [
    await sequential(mock.url, body, count),
    await sequential(proxy.url, body, count),
    await sequential(gateway.url, gatewayBody, count),
  ];
  const latency = {
    requests: count,
    direct: seqDirect,
    bare: seqBare,
    through: seqThrough,
    addedP50: addedMs('added p50 one request at a time', seqThrough.p50, seqDirect.p50, noise, 3),
    addedP99: addedMs('added p99 one request at a time', seqThrough.p99, seqDirect.p99, noise, 3),
  };
  const streams = [];
  for (const concurrency of quick ? [1, 16, 64] : [1, 64]) {
    const direct = await streamLoad(mock.url, body, concurrency, seconds * 1000);
    // The bare proxy passes the event stream through untouched: the floor for streams, as for plain requests.
    const bare = await streamLoad(proxy.url, body, concurrency, seconds * 1000);
    const through = await streamLoad(gateway.url, gatewayBody, concurrency, seconds * 1000);
    streams.push({
      concurrency,
      direct,
      bare,
      through,
      addedTtftP50: addedMs(`added TTFT p50 at concurrency ${concurrency}`, through.ttftP50, direct.ttftP50, noise),
    });
  }
  for (const s of [mock, proxy, gateway]) s.proc.kill('SIGTERM');
  return { rounds, rows, latency, streams };
}

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

function markdown(results: Record<string, unknown> & { machine: Record<string, unknown> }) {
  const o = results.overhead as Awaited<ReturnType<typeof overhead>>;
  const f = results.failover as Awaited<ReturnType<typeof failover>>;
  const c = results.conversations as Awaited<ReturnType<typeof conversations>>[];
  const t = results.tokens as ReturnType<typeof tokens>;
  const lines = [
    `Measured ${results.date} on ${results.machine.cpus} × ${results.machine.cpu}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}${quick ? ' (--quick)' : ''}.`,
    '',
    `Non-streaming, autocannon for ${seconds} s per run, median of ${o.rounds} alternating run(s) after a warm-up; latencies in whole ms.`,
    '',
    '| connections | direct req/s | bare proxy req/s | Switchyard req/s | vs bare proxy | direct p50/p99 ms | Switchyard p50/p99 ms | added p50/p99 ms | bare proxy added p50/p99 ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...o.rows.map(
      (r) =>
        `| ${r.connections} | ${r.direct.rps} | ${r.bare.rps} | ${r.through.rps} | ${Math.round((100 * r.through.rps) / Math.max(1, r.bare.rps))}% | ${r.direct.p50}/${r.direct.p99} | ${r.through.p50}/${r.through.p99} | ${r.addedP50}/${r.addedP99} | ${r.bareAddedP50}/${r.bareAddedP99} |`,
    ),
    '',
    `One connection, ${o.latency.requests} requests one after another, timed in µs: direct p50/p99 ${o.latency.direct.p50}/${o.latency.direct.p99} ms, bare proxy ${o.latency.bare.p50}/${o.latency.bare.p99} ms, Switchyard ${o.latency.through.p50}/${o.latency.through.p99} ms: **added p50 ${o.latency.addedP50} ms, p99 ${o.latency.addedP99} ms**.`,
    '',
    `Streaming: each client opens a stream, reads it to the end and opens the next, for ${seconds} s; streams/s is streams completed per second.`,
    '',
    '| streaming, concurrency | bare proxy streams/s | Switchyard streams/s | vs bare proxy | direct TTFT p50/p99 ms | Switchyard TTFT p50/p99 ms | added TTFT p50 ms | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...o.streams.map(
      (s) =>
        `| ${s.concurrency} | ${round(s.bare.requests / seconds)} | ${round(s.through.requests / seconds)} | ${Math.round((100 * s.through.requests) / Math.max(1, s.bare.requests))}% | ${s.direct.ttftP50}/${s.direct.ttftP99} | ${s.through.ttftP50}/${s.through.ttftP99} | ${s.addedTtftP50} | ${s.through.errors} |`,
    ),
    '',
    `Failover (one of two deployments starts answering 503 under 16 concurrent clients): ${f.requests} requests, ${f.failedClientRequests} failed client requests, all succeeding again ${f.msUntilAllSucceed} ms after the fault, ${f.requestsToDownDeployment} requests reached the down deployment (the first failures and the probes).`,
    '',
    outageLine(results.outage as Awaited<ReturnType<typeof outage>>),
    '',
    '| conversations | heap per active actor | heap per passivated | restore from SQLite p50 |',
    '| --- | --- | --- | --- |',
    ...c.map(
      (r) =>
        // A passivated conversation lives in SQLite: what is left on the heap is below the measurement's noise.
        `| ${r.conversations} | ${(r.bytesPerActive / 1024).toFixed(1)} KB | ${r.bytesPerPassivated <= 64 ? '≈ 0 (below noise)' : `${(r.bytesPerPassivated / 1024).toFixed(2)} KB`} | ${r.restoreMsP50} ms |`,
    ),
    '',
    '| history (turns) | count the new message | re-count the whole history |',
    '| --- | --- | --- |',
    ...t.map((r) => `| ${r.turns} | ${r.incrementalMs} ms | ${r.recountMs} ms |`),
    '',
    ...clusterMarkdown(results.cluster as Awaited<ReturnType<typeof cluster>>),
    '',
    ...conversationsClusterMarkdown(results.conversationsCluster as Awaited<ReturnType<typeof conversationsCluster>>),
    ...(noise.length > 0 ? ['', noiseNote(noise)] : []),
  ];
  return `${lines.join('\n')}\n`;
}

async function main() {
  const results = {
    date: new Date().toISOString(),
    quick,
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    overhead: await overhead(),
    failover: await failover(),
    outage: await outage(server, quick ? 3 : 10),
    conversations: [await conversations(quick ? 1000 : 10_000), ...(quick ? [] : [await conversations(100_000)])],
    tokens: tokens(),
    cluster: await cluster(quick),
    conversationsCluster: await conversationsCluster(quick),
    noise,
  };
  mkdirSync(output.dir, { recursive: true });
  writeFileSync(join(output.dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const md = markdown(results);
  writeFileSync(join(output.dir, 'latest.md'), md);
  console.log(md);
  console.log(
    output.recorded
      ? `Recorded in ${output.dir} (the committed figures).`
      : `Written to ${output.dir} (scratch); add -- --record to replace bench/results/.`,
  );
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGKILL');
}
