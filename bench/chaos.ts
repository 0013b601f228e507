// The chaos run: many conversations over three mock upstreams with random 5xx, 429 bursts with Retry-After,
// stream cuts, and one upstream hard down half-way. It checks, and reports any violation of:
// - every acknowledged turn is stored exactly once, with its reply;
// - no call was let through to a deployment while it was cooling down (its actor's own admissions);
// - every client request either succeeded or got a typed error inside its deadline.
// `npm run chaos [-- --conversations 1000 --turns 5] [-- --soak 10m]`; a test runs it small.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { InspectionEvent } from 'xstate';
import { isSwitchyardError } from '../src/errors.ts';
import { type MockUpstream, startMockUpstream } from '../src/mock/server.ts';
import { createRuntime } from '../src/runtime.ts';
import { createSqliteStore } from '../src/stores/sqlite.ts';

export interface ChaosOptions {
  conversations: number;
  turns: number;
  /** Concurrent conversations. */
  concurrency?: number;
  /** Run in rounds until this many ms have passed, sampling memory (soak mode). */
  soakMs?: number;
}

export interface ChaosReport {
  turns: number;
  succeeded: number;
  errors: Record<string, number>;
  violations: string[];
  /** Requests that reached an upstream while its deployment cooled down: admitted just before the trip. */
  arrivalsWhileCooling: Record<string, number>;
  memory: { atMs: number; heapMiB: number; rssMiB: number }[];
  ms: number;
}

const deadlineMs = 8000;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const arrivals: number[][] = [[], [], []];
  const mocks: MockUpstream[] = await Promise.all([
    startMockUpstream({ chunkDelayMs: 1, faults: { mode: 'error', status: 500, rate: 0.2 }, onRequest: (at) => arrivals[0]?.push(at) }),
    startMockUpstream({ chunkDelayMs: 1, onRequest: (at) => arrivals[1]?.push(at) }),
    startMockUpstream({ chunkDelayMs: 1, faults: { mode: 'cut', rate: 0.2, afterChunks: 3 }, onRequest: (at) => arrivals[2]?.push(at) }),
  ]);
  const db = join(mkdtempSync(join(tmpdir(), 'switchyard-chaos-')), 'chaos.db');
  // Admissions, from the provider actors' own outcome events: a call settles as one event whose
  // `at - latencyMs` is the time it was let through.
  const admitted: Record<string, number[]> = {};
  const inspect = (e: InspectionEvent) => {
    if (e.type !== '@xstate.event' || !e.event.type.startsWith('call.')) return;
    const actor = (e.actorRef as { id?: string }).id ?? '';
    const list = admitted[actor] ?? [];
    admitted[actor] = list;
    const { at, latencyMs } = e.event as unknown as { at: number; latencyMs: number };
    list.push(at - latencyMs);
  };
  const runtime = createRuntime(
    {
      providers: mocks.map((m, i) => ({ id: `m${i}`, baseURL: m.url, models: { chat: 'mock-model' }, timeoutMs: 3000 })),
      routing: { strategy: 'least-busy', maxAttempts: 4, deadlineMs },
      health: { minVolume: 3, probeIdleMs: 200, backoff: { initialMs: 200, maxMs: 1000 } },
      conversations: { idleMs: 1000 },
    },
    { store: `sqlite:${db}`, inspect },
  );
  // Cool-down intervals per deployment, from the actors' own state records.
  const cooling: Record<string, [number, number][]> = {};
  const unsubscribe = runtime.subscribe((r) => {
    if (r.machine !== 'provider') return;
    const list = cooling[r.actor] ?? [];
    cooling[r.actor] = list;
    if (r.state === 'recovering.coolingDown') list.push([r.at, Number.POSITIVE_INFINITY]);
    else if (r.from === 'recovering.coolingDown') {
      const open = list.at(-1);
      if (open) open[1] = r.at;
    }
  });
  // 429 bursts with Retry-After on the second upstream; the first goes hard down half-way.
  const bursts = setInterval(() => {
    const burst = Math.random() < 0.3;
    mocks[1]?.setFaults(burst ? { mode: 'error', status: 429, retryAfterSeconds: 1, rate: 1 } : { mode: 'ok' });
  }, 700);
  const report: ChaosReport = { turns: 0, succeeded: 0, errors: {}, violations: [], arrivalsWhileCooling: {}, memory: [], ms: 0 };
  const acknowledged = new Map<string, string[]>();
  const memory = setInterval(() => {
    const m = process.memoryUsage();
    report.memory.push({ atMs: Date.now() - started, heapMiB: Math.round(m.heapUsed / 2 ** 20), rssMiB: Math.round(m.rss / 2 ** 20) });
  }, 1000);

  const round = async (round: number) => {
    let next = 0;
    const total = options.conversations;
    const halfWay = Math.floor(total / 2);
    const worker = async () => {
      for (let c = next++; c < total; c = next++) {
        if (round === 0 && c === halfWay) mocks[0]?.setFaults({ mode: 'error', status: 503, rate: 1 });
        const { id } = await runtime.conversations.create({ model: 'chat' });
        const acked: string[] = [];
        for (let t = 0; t < options.turns; t++) {
          report.turns++;
          const content = `r${round} c${c} t${t}`;
          const began = Date.now();
          try {
            const post = { idempotencyKey: content };
            if (t % 2 === 0) await runtime.conversations.post(id, content, post);
            else for await (const _event of runtime.conversations.stream(id, content, post)) void _event;
            report.succeeded++;
            acked.push(content);
          } catch (err) {
            const code = isSwitchyardError(err) ? err.code : 'untyped';
            report.errors[code] = (report.errors[code] ?? 0) + 1;
            if (!isSwitchyardError(err)) report.violations.push(`untyped error on ${content}: ${String(err)}`);
            if (Date.now() - began > deadlineMs + 1000)
              report.violations.push(`${content} took ${Date.now() - began} ms, past its deadline`);
          }
        }
        acknowledged.set(id, acked);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 50 }, worker));
  };

  let rounds = 0;
  do await round(rounds++);
  while (options.soakMs !== undefined && Date.now() - started < options.soakMs);

  clearInterval(bursts);
  clearInterval(memory);
  unsubscribe();
  await runtime.stop();
  await Promise.all(mocks.map((m) => m.close()));

  // Every acknowledged turn is stored exactly once, answered.
  const store = createSqliteStore(db);
  for (const [id, acked] of acknowledged) {
    const messages = (await store.load(id))?.messages ?? [];
    for (const content of acked) {
      const users = messages.filter((m) => m.role === 'user' && m.content === content);
      if (users.length !== 1 || users[0]?.status !== 'done')
        report.violations.push(`${content} stored ${users.length} times (${users[0]?.status})`);
      else if (!messages.some((m) => m.role === 'assistant' && m.turnId === users[0]?.turnId && m.status === 'done')) {
        report.violations.push(`${content} has no stored reply`);
      }
    }
  }
  await store.close();
  // No call was let through to a deployment while it cooled down. Arrivals are reported too: a call admitted
  // just before the trip can still reach the upstream after it.
  for (const [i, times] of arrivals.entries()) {
    const deployment = `m${i}/mock-model`;
    for (const [from, to] of cooling[deployment] ?? []) {
      const inside = (admitted[deployment] ?? []).filter((at) => at > from && at < to);
      if (inside.length) report.violations.push(`${deployment} admitted ${inside.length} calls while cooling down`);
      const reached = times.filter((at) => at > from && at < to).length;
      if (reached) report.arrivalsWhileCooling[deployment] = (report.arrivalsWhileCooling[deployment] ?? 0) + reached;
    }
  }
  // The check above reads the actors' outcome events: it proves nothing if it saw fewer calls than answers.
  const seen = Object.values(admitted).reduce((n, list) => n + list.length, 0);
  if (seen < report.succeeded) report.violations.push(`saw ${seen} settled calls for ${report.succeeded} answered turns`);
  report.ms = Date.now() - started;
  return report;
}

function duration(text: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text);
  if (!m) throw new Error(`--soak: expected a duration like 10m, 30s or 5000ms, got "${text}"`);
  return Number(m[1]) * (m[2] === 'm' ? 60_000 : m[2] === 's' ? 1000 : 1);
}

const usage = `npm run chaos -- [options]: many conversations over three faulty mock upstreams; exits 1 on a violation

  --conversations N   conversations (default 1000)
  --turns N           turns per conversation (default 5)
  --concurrency N     conversations at once (default 50)
  --soak D            repeat in rounds for a duration (10m, 30s, 5000ms), sampling memory
  --help              this text
`;

function count(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got "${value}"`);
  return n;
}

/** The command line, strictly: an unknown option is an error, not a full chaos run with defaults. */
function parseCli(argv: string[]): ChaosOptions | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      conversations: { type: 'string' },
      turns: { type: 'string' },
      concurrency: { type: 'string' },
      soak: { type: 'string' },
    },
  });
  if (values.help) return null;
  return {
    conversations: count('conversations', values.conversations, 1000),
    turns: count('turns', values.turns, 5),
    ...(values.concurrency === undefined ? {} : { concurrency: count('concurrency', values.concurrency, 1) }),
    ...(values.soak === undefined ? {} : { soakMs: duration(values.soak) }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let options: ChaosOptions | null;
  try {
    options = parseCli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`chaos: ${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
    process.exit(2);
  }
  if (options === null) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const soak = options.soakMs !== undefined;
  const report = await runChaos(options);
  const { memory, ...summary } = report;
  console.log(JSON.stringify(summary, null, 2));
  const first = memory[0];
  const last = memory.at(-1);
  if (first && last)
    console.log(`memory: heap ${first.heapMiB} → ${last.heapMiB} MiB, rss ${first.rssMiB} → ${last.rssMiB} MiB over ${last.atMs} ms`);
  // In soak mode, a sample at each tenth of the run shows whether memory stays flat.
  if (soak)
    for (let i = 0; i < memory.length; i += Math.max(1, Math.floor(memory.length / 10))) console.log(`  ${JSON.stringify(memory[i])}`);
  process.exit(report.violations.length === 0 ? 0 : 1);
}
