// One server per process for the benchmarks, so that the load generator, the upstream and the system under
// test do not share an event loop: `node bench/servers.ts mock|proxy|gateway|gateway-defaults [upstream URLs…]`. Prints
// `ready <url>` when it listens, and stops on SIGTERM.

import Fastify from 'fastify';
import { Pool } from 'undici';
import { startMockUpstream } from '../src/mock/server.ts';
import { createRuntime } from '../src/runtime.ts';
import { startServer } from '../src/server/index.ts';

const [kind, ...upstreams] = process.argv.slice(2);

async function bareProxy(upstream: string) {
  // The floor: fastify in front of an undici pool, passing the body through and the answer back, nothing else.
  const target = new URL(upstream);
  const pool = new Pool(target.origin, { connections: 512, pipelining: 1 });
  const app = Fastify();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post('/v1/chat/completions', async (request, reply) => {
    const res = await pool.request({
      method: 'POST',
      path: `${target.pathname}/chat/completions`,
      headers: { 'content-type': 'application/json' },
      body: request.body as Buffer,
    });
    reply.code(res.statusCode).header('content-type', String(res.headers['content-type'] ?? 'application/json'));
    return reply.send(res.body);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, close: () => app.close() };
}

async function main() {
  if (kind === 'mock') {
    const mock = await startMockUpstream({ port: 0, chunkDelayMs: Number(process.env.CHUNK_DELAY_MS ?? 0) });
    return { url: mock.url.replace(/\/v1$/, ''), close: () => mock.close() };
  }
  if (kind === 'proxy') return bareProxy(upstreams[0] ?? '');
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
