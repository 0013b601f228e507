// The cluster section of `npm run bench`: three gateway processes sharing one Redis against three independent
// ones, under the same load and fault. Reports calls that reach a deployment after it went down, how fast a
// trip reaches the other instances, how many requests a shared rpm budget admits across instances, and what the
// budget's Redis round trip adds to a request. Loopback only; every process is stopped at the end.

import { request } from 'undici';
import { createActor, fromPromise } from 'xstate';
import { createSharedHealth } from '../src/cluster/health.ts';
import { createClusterLink } from '../src/cluster/link.ts';
import { healthOf } from '../src/provider/health.ts';
import { providerMachine } from '../src/provider/machine.ts';
import { startRedis } from '../test/helpers/redis.ts';
import { percentile, round } from './output.ts';
import { startServerProcess } from './spawn.ts';

const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Say something about clusters.' }] });
const statsOf = async (url: string) => (await (await fetch(`${url}/_mock/stats`)).json()) as { requests: number };

async function post(url: string) {
  const res = await request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch(
    () => null,
  );
  await res?.body.dump();
  return res?.statusCode === 200;
}

/** Three gateways over upstreams A and B, clustered on `redis` or independent. */
async function fleet(a: string, b: string, redis: string | null, env: Record<string, string> = {}) {
  return Promise.all(
    ['gw-1', 'gw-2', 'gw-3'].map((name) =>
      startServerProcess('gateway', [a, b], { ...env, ...(redis ? { BENCH_REDIS: redis, BENCH_INSTANCE: name } : {}) }),
    ),
  );
}

/** Closed-loop load: `perGateway` clients on each gateway for `ms`; `at(ms)` runs once at that time. */
async function drive(urls: string[], perGateway: number, ms: number, at?: { ms: number; run: () => Promise<void> }) {
  const start = performance.now();
  let failed = 0;
  let sent = 0;
  if (at) setTimeout(() => void at.run(), at.ms);
  await Promise.all(
    urls.flatMap((url) =>
      Array.from({ length: perGateway }, async () => {
        while (performance.now() - start < ms) {
          sent++;
          if (!(await post(url))) failed++;
        }
      }),
    ),
  );
  return { sent, failed };
}

/** Whether any of the gateways has taken deployment A out of service. */
async function anyTripped(urls: string[]) {
  for (const url of urls) {
    const providers = (await (await fetch(`${url}/v1/providers`)).json()) as { data: { id: string; health: string }[] };
    if (providers.data.find((p) => p.id === 'up0/mock-model')?.health !== 'healthy') return true;
  }
  return false;
}

async function downDeployment(redis: string | null, ms: number) {
  const a = await startServerProcess('mock');
  const b = await startServerProcess('mock');
  const gateways = await fleet(a.url, b.url, redis);
  const urls = gateways.map((g) => g.url);
  let before = 0;
  let atFirstTrip: number | null = null;
  const run = await drive(urls, 4, ms, {
    ms: ms / 4,
    run: async () => {
      before = (await statsOf(a.url)).requests;
      await fetch(`${a.url}/_mock/faults`, { method: 'POST', body: JSON.stringify({ mode: 'error', status: 503 }) });
      // Calls after the first trip anywhere are what sharing saves: the other instances' discovery and probes.
      for (let i = 0; i < 500 && atFirstTrip === null; i++) {
        if (await anyTripped(urls)) atFirstTrip = (await statsOf(a.url)).requests;
        else await new Promise((r) => setTimeout(r, 5));
      }
    },
  });
  const end = (await statsOf(a.url)).requests;
  for (const s of [a, b, ...gateways]) s.proc.kill('SIGTERM');
  return {
    requests: run.sent,
    failedClientRequests: run.failed,
    callsToDownDeployment: end - before,
    callsAfterFirstTrip: atFirstTrip === null ? null : end - atFirstTrip,
  };
}

async function rpmAccuracy(redis: string | null, rpm: number, ms: number) {
  const a = await startServerProcess('mock');
  const b = await startServerProcess('mock');
  const gateways = await fleet(a.url, b.url, redis, { BENCH_RPM: String(rpm) });
  const before = (await statsOf(a.url)).requests;
  const run = await drive(
    gateways.map((g) => g.url),
    8,
    ms,
  );
  const admitted = (await statsOf(a.url)).requests - before;
  for (const s of [a, b, ...gateways]) s.proc.kill('SIGTERM');
  return { requests: run.sent, admittedToBudgeted: admitted };
}

/** One connection, requests one after another to a gateway whose upstream has a budget (so each request reserves). */
async function budgetLatency(redis: string | null, count: number) {
  const a = await startServerProcess('mock');
  const b = await startServerProcess('mock');
  const gateway = await startServerProcess('gateway', [a.url, b.url], {
    BENCH_RPM: '1000000000',
    ...(redis ? { BENCH_REDIS: redis, BENCH_INSTANCE: 'gw-latency' } : {}),
  });
  for (let i = 0; i < 200; i++) await post(gateway.url);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    if (await post(gateway.url)) samples.push(performance.now() - started);
  }
  for (const s of [a, b, gateway]) s.proc.kill('SIGTERM');
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

/** How long a trip on one instance takes to move the provider actors of two others, over the real link. */
async function propagation(redis: string, trips: number) {
  const names = ['gw-1', 'gw-2', 'gw-3'];
  const made = names.map((name) => {
    const link = createClusterLink({ url: redis, instanceId: name, prefix: `bench-propagation` });
    let actor: ReturnType<typeof createActor<typeof providerMachine>> | undefined;
    const shared = createSharedHealth(link, { actorOf: () => actor, deployments: () => ['d'], now: Date.now }, { probeLeaseMs: 1000 });
    const logic = providerMachine.provide({
      actions: {
        claimProbe: ({ context }) => shared.claimProbe(context.id),
        announceTrip: ({ context }) => shared.announceTrip(context.id, context.nextProbeAt),
        announceRecovery: ({ context }) => shared.announceRecovery(context.id),
      },
      actors: { healthProbe: fromPromise(() => new Promise<void>(() => {})) },
    });
    actor = createActor(logic, {
      input: { id: 'd', clustered: true, health: { backoff: { kind: 'fixed', initialMs: 60_000, maxMs: 60_000, jitter: 'none' } } },
    }).start();
    return { link, actor };
  });
  await Promise.all(made.map((m) => m.link.ready()));
  const delays: number[] = [];
  for (let trip = 0; trip < trips; trip++) {
    const [origin, ...peers] = made;
    if (!origin) break;
    const moved = peers.map(
      (peer) =>
        new Promise<number>((resolve) => {
          const sub = peer.actor.subscribe((s) => {
            if (healthOf(s) !== 'coolingDown') return;
            sub.unsubscribe();
            resolve(performance.now());
          });
        }),
    );
    const started = performance.now();
    origin.actor.send({ type: 'circuit.tripped', at: Date.now() });
    for (const at of await Promise.all(moved)) delays.push(at - started);
    // Recover all three (as a successful probe would) before the next trip.
    for (const m of made) m.actor.send({ type: 'cluster.recovered', at: Date.now(), instance: 'bench' });
  }
  for (const m of made) m.actor.stop();
  await Promise.all(made.map((m) => m.link.close()));
  return { trips, p50Ms: round(percentile(delays, 0.5), 3), p99Ms: round(percentile(delays, 0.99), 3) };
}

export async function cluster(quick: boolean) {
  const redis = await startRedis();
  try {
    const ms = quick ? 4000 : 8000;
    const rpm = 600;
    const latencyCount = quick ? 300 : 1000;
    return {
      downDeployment: { clustered: await downDeployment(redis.url, ms), independent: await downDeployment(null, ms) },
      propagation: await propagation(redis.url, quick ? 30 : 100),
      rpm: { limit: rpm, clustered: await rpmAccuracy(redis.url, rpm, ms), independent: await rpmAccuracy(null, rpm, ms) },
      latency: { clustered: await budgetLatency(redis.url, latencyCount), alone: await budgetLatency(null, latencyCount) },
    };
  } finally {
    await redis.stop();
  }
}

export function clusterMarkdown(c: Awaited<ReturnType<typeof cluster>>): string[] {
  const added = round(c.latency.clustered.p50 - c.latency.alone.p50, 3);
  return [
    'Cluster (three gateway processes on one Redis vs three independent ones, same load: 4 clients per gateway):',
    '',
    '| | clustered | independent |',
    '| --- | --- | --- |',
    `| calls reaching a deployment after it went down | ${c.downDeployment.clustered.callsToDownDeployment} | ${c.downDeployment.independent.callsToDownDeployment} |`,
    `| … of them after the first instance tripped it | ${c.downDeployment.clustered.callsAfterFirstTrip ?? '–'} | ${c.downDeployment.independent.callsAfterFirstTrip ?? '–'} |`,
    `| failed client requests | ${c.downDeployment.clustered.failedClientRequests} of ${c.downDeployment.clustered.requests} | ${c.downDeployment.independent.failedClientRequests} of ${c.downDeployment.independent.requests} |`,
    `| requests admitted to a deployment with rpm ${c.rpm.limit} (8 clients per gateway, one run) | ${c.rpm.clustered.admittedToBudgeted} | ${c.rpm.independent.admittedToBudgeted} |`,
    '',
    `A trip reaches the other instances' provider actors in p50 ${c.propagation.p50Ms} ms, p99 ${c.propagation.p99Ms} ms (${c.propagation.trips} trips over the real link). The budget's Redis round trip, one request at a time: p50 ${round(c.latency.clustered.p50, 3)} ms clustered vs ${round(c.latency.alone.p50, 3)} ms alone (**${added >= 0 ? `+${added}` : added} ms**), p99 ${round(c.latency.clustered.p99, 3)} vs ${round(c.latency.alone.p99, 3)} ms.`,
  ];
}

// `node bench/cluster.ts [--quick]` runs this section alone.
if (import.meta.main) {
  try {
    console.log(clusterMarkdown(await cluster(process.argv.includes('--quick'))).join('\n'));
  } finally {
    const { children } = await import('./spawn.ts');
    for (const child of children) child.kill('SIGKILL');
  }
}
