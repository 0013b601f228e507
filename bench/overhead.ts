// What the gateway adds to a request, side by side in one run: the mock called directly, the bare fastify +
// undici pass-through proxy (the floor), Switchyard, and the optional peers (bench/peers.ts) against the same
// mock. Plain requests under autocannon, one request at a time in µs, and concurrent streams.

import {
  type Load,
  load,
  medianLoad,
  medianStreams,
  medianTimed,
  type StreamLoad,
  sequential,
  streamLoad,
  type Target,
  type TimedLoad,
  timedLoad,
} from './load.ts';
import { addedMs, type Noise, round } from './output.ts';
import type { Peer } from './peers.ts';
import { startServerProcess as server } from './spawn.ts';

const body = JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'Say something about gateways.' }] });
const gatewayBody = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Say something about gateways.' }] });

export async function overhead(quick: boolean, noise: Noise[], startPeers: () => Promise<Peer[]>) {
  const seconds = quick ? 3 : 5;
  const mock = await server('mock');
  const proxy = await server('proxy', [`${mock.url}/v1`]);
  const gateway = await server('gateway', [mock.url]);
  const peers = await startPeers();
  const direct: Target = { url: mock.url, payload: body };
  const bare: Target = { url: proxy.url, payload: body };
  const through: Target = { url: gateway.url, payload: gatewayBody };
  const peerTargets: Target[] = peers.map((p) => ({ url: p.url, payload: body, headers: p.headers(mock.url) }));
  const targets = [direct, bare, through, ...peerTargets];
  // Warm-up, not measured: JIT, connection pools and the mock's own caches reach their steady state.
  for (const t of targets) await load(t, 64, quick ? 1 : 3);
  const rounds = quick ? 1 : 3;
  const rows = [];
  for (const connections of quick ? [1, 64] : [1, 64, 256]) {
    const runs: Load[][] = targets.map(() => []);
    for (let r = 0; r < rounds; r++) for (const [i, t] of targets.entries()) runs[i]?.push(await load(t, connections, seconds));
    const [d, b, s, ...p] = runs.map(medianLoad) as [Load, Load, Load, ...Load[]];
    rows.push({
      connections,
      direct: d,
      bare: b,
      through: s,
      peers: p,
      addedP50: addedMs(`added p50 at ${connections} connections`, s.p50, d.p50, noise),
      addedP99: addedMs(`added p99 at ${connections} connections`, s.p99, d.p99, noise),
      bareAddedP50: addedMs(`bare proxy added p50 at ${connections} connections`, b.p50, d.p50, noise),
      bareAddedP99: addedMs(`bare proxy added p99 at ${connections} connections`, b.p99, d.p99, noise),
    });
  }
  // 64 connections again, every request timed in µs: the added p50 against the bare proxy's, to the tenth of a ms.
  const timedRuns: TimedLoad[][] = targets.map(() => []);
  for (let r = 0; r < rounds; r++) for (const [i, t] of targets.entries()) timedRuns[i]?.push(await timedLoad(t, 64, seconds * 1000));
  const [td, tb, ts] = timedRuns.map(medianTimed) as [TimedLoad, TimedLoad, TimedLoad];
  const timed = {
    direct: td,
    bare: tb,
    through: ts,
    addedP50: addedMs('added p50 at 64 connections, timed', ts.p50, td.p50, noise, 3),
    bareAddedP50: addedMs('bare proxy added p50 at 64 connections, timed', tb.p50, td.p50, noise, 3),
  };
  const count = quick ? 500 : 2000;
  const [seqDirect, seqBare, seqThrough] = [
    await sequential(direct, count),
    await sequential(bare, count),
    await sequential(through, count),
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
    // The bare proxy passes the event stream through untouched: the floor for streams, as for plain requests.
    // Rounds alternate between the targets, as for plain requests; each figure is the median of the rounds.
    const runs: StreamLoad[][] = targets.map(() => []);
    for (let r = 0; r < rounds; r++)
      for (const [i, t] of targets.entries()) runs[i]?.push(await streamLoad(t, concurrency, seconds * 1000));
    const [sd, sb, ss, ...sp] = runs.map(medianStreams) as [StreamLoad, StreamLoad, StreamLoad, ...StreamLoad[]];
    streams.push({
      concurrency,
      direct: sd,
      bare: sb,
      through: ss,
      peers: sp,
      addedTtftP50: addedMs(`added TTFT p50 at concurrency ${concurrency}`, ss.ttftP50, sd.ttftP50, noise),
      bareAddedTtftP50: addedMs(`bare proxy added TTFT p50 at concurrency ${concurrency}`, sb.ttftP50, sd.ttftP50, noise),
    });
  }
  for (const s of [mock, proxy, gateway, ...peers]) s.proc.kill('SIGTERM');
  return { seconds, rounds, rows, timed, latency, streams, peers: peers.map((p) => ({ name: p.name, version: p.version })) };
}

type Overhead = Awaited<ReturnType<typeof overhead>>;

const pct = (n: number, of: number) => `${Math.round((100 * n) / Math.max(1, of))}%`;

/** The headline: 64 concurrent streams, Switchyard (and each peer) against the bare proxy of the same run. */
export function headline(o: Overhead): string {
  const s = o.streams.find((x) => x.concurrency === 64);
  if (!s) return '';
  const peers = o.peers.map(
    (p, i) =>
      `, ${p.name} ${pct(s.peers[i]?.requests ?? 0, s.bare.requests)}${(s.peers[i]?.errors ?? 0) > 0 ? ` (${s.peers[i]?.errors} errors)` : ''}`,
  );
  return `**Streamed, 64 concurrent: Switchyard ${pct(s.through.requests, s.bare.requests)} of the bare proxy's streams/s${peers.join('')}; added TTFT p50 ${s.addedTtftP50} ms (bare proxy ${s.bareAddedTtftP50} ms).**`;
}

export function overheadMarkdown(o: Overhead): string[] {
  const names = o.peers.map((p) => p.name);
  const peerHead = names.map((n) => ` ${n} req/s | ${n} vs bare |`).join('');
  const streamHead = names.map((n) => ` ${n} streams/s | ${n} vs bare | ${n} errors |`).join('');
  const sep = (n: number) => ' --- |'.repeat(n);
  return [
    ...(o.peers.length > 0
      ? [`Peers, same mock, same run: ${o.peers.map((p) => `${p.name} ${p.version}`).join(', ')} (Node ${process.version}).`, '']
      : []),
    `Non-streaming, autocannon for ${o.seconds} s per run, median of ${o.rounds} alternating run(s) after a warm-up; latencies in whole ms.`,
    '',
    `| connections | direct req/s | bare proxy req/s | Switchyard req/s | vs bare proxy |${peerHead} direct p50/p99 ms | Switchyard p50/p99 ms | added p50/p99 ms | bare proxy added p50/p99 ms |`,
    `|${sep(9 + 2 * names.length)}`,
    ...o.rows.map(
      (r) =>
        `| ${r.connections} | ${r.direct.rps} | ${r.bare.rps} | ${r.through.rps} | ${pct(r.through.rps, r.bare.rps)} |${r.peers.map((p) => ` ${p.rps} | ${pct(p.rps, r.bare.rps)} |`).join('')} ${r.direct.p50}/${r.direct.p99} | ${r.through.p50}/${r.through.p99} | ${r.addedP50}/${r.addedP99} | ${r.bareAddedP50}/${r.bareAddedP99} |`,
    ),
    '',
    `64 connections, each request timed in µs by undici clients (${o.seconds} s per run, median of ${o.rounds}): direct p50/p99 ${o.timed.direct.p50}/${o.timed.direct.p99} ms, bare proxy ${o.timed.bare.p50}/${o.timed.bare.p99} ms, Switchyard ${o.timed.through.p50}/${o.timed.through.p99} ms (${o.timed.through.rps} req/s, bare proxy ${o.timed.bare.rps}): **added p50 ${o.timed.addedP50} ms, bare proxy ${o.timed.bareAddedP50} ms**.`,
    '',
    `One connection, ${o.latency.requests} requests one after another, timed in µs: direct p50/p99 ${o.latency.direct.p50}/${o.latency.direct.p99} ms, bare proxy ${o.latency.bare.p50}/${o.latency.bare.p99} ms, Switchyard ${o.latency.through.p50}/${o.latency.through.p99} ms: **added p50 ${o.latency.addedP50} ms, p99 ${o.latency.addedP99} ms**.`,
    '',
    `Streaming: each client opens a stream, reads it to the end and opens the next, for ${o.seconds} s per run, median of ${o.rounds} alternating run(s); streams/s is streams completed with content per second.`,
    '',
    `| streaming, concurrency | bare proxy streams/s | Switchyard streams/s | vs bare proxy |${streamHead} direct TTFT p50/p99 ms | bare proxy TTFT p50/p99 ms | Switchyard TTFT p50/p99 ms | added TTFT p50 ms | bare proxy added TTFT p50 ms | errors |`,
    `|${sep(10 + 3 * names.length)}`,
    ...o.streams.map(
      (s) =>
        `| ${s.concurrency} | ${round(s.bare.requests / o.seconds)} | ${round(s.through.requests / o.seconds)} | ${pct(s.through.requests, s.bare.requests)} |${s.peers.map((p) => ` ${round(p.requests / o.seconds)} | ${pct(p.requests, s.bare.requests)} | ${p.errors} |`).join('')} ${s.direct.ttftP50}/${s.direct.ttftP99} | ${s.bare.ttftP50}/${s.bare.ttftP99} | ${s.through.ttftP50}/${s.through.ttftP99} | ${s.addedTtftP50} | ${s.bareAddedTtftP50} | ${s.through.errors} |`,
    ),
  ];
}
