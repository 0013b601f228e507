// `npm run bench:cpu [-- --plain] [-- --seconds 4] [-- --rounds 3] [-- --concurrency 64]`: CPU time of each
// server process per request served, the bare proxy beside Switchyard. On a shared machine CPU per request is far
// steadier than throughput: other work slows a server down but does not make it spend more CPU on a request.
// Streams by default (64 concurrent clients, each reading a stream to its end and opening the next); `--plain`
// measures non-streamed requests at the same concurrency. Best (lowest) of the rounds, after a warm-up.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { request } from 'undici';
import { round } from './output.ts';
import { children, startServerProcess } from './spawn.ts';

const { values: args } = parseArgs({
  options: {
    plain: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
    // Writes a CPU profile of the Switchyard process (node --cpu-prof) into this folder.
    profile: { type: 'string' },
  },
});
const plain = args.plain === true;
const ms = Number(args.seconds) * 1000;
const rounds = Number(args.rounds);
const concurrency = Number(args.concurrency);
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User + system CPU time of process `pid` so far, in µs (from /proc: the process may be any program). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: utime is the 14th field.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / ticksPerSecond;
}

/** Clients each opening a stream, reading it to its end and opening the next, for `ms`: the streams completed. */
async function streams(url: string, body: string, duration: number): Promise<{ served: number; errors: number }> {
  let served = 0;
  let errors = 0;
  const until = performance.now() + duration;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        try {
          const res = await request(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          let text = '';
          for await (const chunk of res.body) text = chunk.toString().slice(-32);
          if (res.statusCode === 200 && text.includes('[DONE]')) served++;
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { served, errors };
}

async function plainLoad(url: string, body: string, duration: number): Promise<{ served: number; errors: number }> {
  const result = await autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: concurrency,
    duration: duration / 1000,
  });
  const errors = result.errors + result.timeouts + result.non2xx;
  return { served: result.requests.total - result.non2xx, errors };
}

interface Target {
  name: string;
  url: string;
  pid: number;
  body: string;
}

/** One round on one target: its CPU per request served, and the upstream mock's. */
async function measure(target: Target, mockPid: number, duration: number) {
  const before = cpuMicros(target.pid);
  const mockBefore = cpuMicros(mockPid);
  const { served, errors } = await (plain ? plainLoad : streams)(target.url, target.body, duration);
  const used = cpuMicros(target.pid) - before;
  const mockUsed = cpuMicros(mockPid) - mockBefore;
  return { served, errors, perRequest: used / Math.max(1, served), mockPerRequest: mockUsed / Math.max(1, served) };
}

async function main() {
  const mock = await startServerProcess('mock');
  const proxy = await startServerProcess('proxy', [`${mock.url}/v1`]);
  const profile: Record<string, string> = args.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${args.profile}` } : {};
  const gateway = await startServerProcess('gateway', [mock.url], profile);
  const payload = (model: string) =>
    JSON.stringify({ model, messages: [{ role: 'user', content: 'Say something about gateways.' }], ...(plain ? {} : { stream: true }) });
  const pidOf = (p: { proc: { pid?: number | undefined } }) => {
    if (p.proc.pid === undefined) throw new Error('a server process has no pid');
    return p.proc.pid;
  };
  const targets: Target[] = [
    { name: 'bare proxy', url: proxy.url, pid: pidOf(proxy), body: payload('mock-model') },
    { name: 'Switchyard', url: gateway.url, pid: pidOf(gateway), body: payload('chat') },
  ];
  const mockPid = pidOf(mock);
  // Warm-up: the JIT compiles the hot paths of every process before anything is counted.
  for (const target of targets) await measure(target, mockPid, 1500);
  const results = new Map<string, Awaited<ReturnType<typeof measure>>[]>();
  for (let r = 0; r < rounds; r++) {
    // Rounds alternate between the targets, so a busy moment of the machine hits each alike.
    for (const target of targets) {
      const result = await measure(target, mockPid, ms);
      results.set(target.name, [...(results.get(target.name) ?? []), result]);
      console.log(
        `round ${r + 1} ${target.name}: ${result.served} served, ${result.errors} errors, ${round(result.perRequest, 1)} µs CPU per request`,
      );
    }
  }
  const kind = plain ? 'non-streamed requests' : 'streams';
  console.log(`\nCPU per request, best of ${rounds} rounds of ${ms / 1000} s, ${concurrency} concurrent ${kind}:`);
  const best: Record<string, number> = {};
  for (const [name, runs] of results) {
    const top = runs.reduce((a, b) => (b.perRequest < a.perRequest ? b : a));
    best[name] = top.perRequest;
    const all = runs.map((x) => round(x.perRequest, 0)).join(', ');
    console.log(`  ${name.padEnd(11)} ${round(top.perRequest, 0)} µs (rounds: ${all}; mock upstream ${round(top.mockPerRequest, 0)} µs)`);
  }
  const bare = best['bare proxy'] ?? Number.NaN;
  const gw = best.Switchyard ?? Number.NaN;
  console.log(`  Switchyard ÷ bare proxy: ${round(gw / bare, 2)} (${round(gw - bare, 0)} µs more per request)`);
  if (args.profile) {
    // The profile is written when the process exits by itself: stop it gently and wait.
    const exited = new Promise((resolve) => gateway.proc.once('exit', resolve));
    gateway.proc.kill('SIGTERM');
    await exited;
    console.log(`  profile written to ${args.profile}`);
  }
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGKILL');
}
