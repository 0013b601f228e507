// One server per process for the benchmarks, so that the load generator, the upstream and the system under
// test do not share an event loop: `node bench/servers.ts mock|proxy|gateway|gateway-defaults [upstream URLs…]`. Prints
// `ready <url>` when it listens, and stops on SIGTERM.

import { startBareProxy } from './bare-proxy.js';

const [kind, ...upstreams] = process.argv.slice(2);

async function main() {
  if (kind === 'proxy') return startBareProxy(upstreams[0] ?? '');
  // Loaded only by the kinds that use them: the bare proxy's process holds nothing of Switchyard.
  if (kind === 'mock') {
    const { startMockUpstream } = await import('../src/mock/server.ts');
    const mock = await startMockUpstream({ port: 0, chunkDelayMs: Number(process.env.CHUNK_DELAY_MS ?? 0) });
    return { url: mock.url.replace(/\/v1$/, ''), close: () => mock.close() };
  }
  const [{ createRuntime }, { startServer }] = await Promise.all([import('../src/runtime.ts'), import('../src/server/index.ts')]);
  if (kind === 'gateway') {
    // The cluster benchmark (bench/cluster.ts) sets BENCH_REDIS (join a cluster), BENCH_INSTANCE and BENCH_RPM
    // (a budget on the first upstream).
    const rpm = process.env.BENCH_RPM ? Number(process.env.BENCH_RPM) : null;
    const runtime = createRuntime(
      {
        providers: upstreams.map((u, i) => ({
          id: `up${i}`,
          baseURL: `${u}/v1`,
          models: { chat: 'mock-model' },
          timeoutMs: 5000,
          ...(i === 0 && rpm !== null ? { rpm } : {}),
        })),
        routing: { deadlineMs: 10_000 },
        health: { minVolume: 3, probeIdleMs: 200, backoff: { initialMs: 250, maxMs: 2000 } },
        ...(process.env.BENCH_REDIS ? { cluster: { redis: process.env.BENCH_REDIS, instanceId: process.env.BENCH_INSTANCE ?? null } } : {}),
      },
      // BENCH_STORE: the conversations benchmark (bench/conversations-cluster.ts) on SQLite or Postgres.
      { store: process.env.BENCH_STORE ?? 'memory' },
    );
    const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [], inspector: false });
    return { url: server.url, close: () => server.shutdown(500) };
  }
  if (kind === 'gateway-defaults') {
    // The routing and health settings a config that sets none gets: what the total-outage scenario measures.
    const runtime = createRuntime(
      { providers: upstreams.map((u, i) => ({ id: `up${i}`, baseURL: `${u}/v1`, models: { chat: 'mock-model' } })) },
      { store: 'memory' },
    );
    const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [], inspector: false });
    return { url: server.url, close: () => server.shutdown(500) };
  }
  throw new Error(`unknown server kind "${kind}"`);
}

const server = await main();
console.log(`ready ${server.url}`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
