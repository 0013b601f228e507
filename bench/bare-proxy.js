// The floor of the overhead runs: fastify in front of an undici pool, passing the body through and the answer
// back, nothing else. Plain JavaScript that imports nothing of Switchyard, so that its idle footprint (bench/idle.ts)
// is a bare proxy's, without Node's type stripping. `node bench/bare-proxy.js <upstream /v1 URL>` prints
// `ready <url>` when it listens.

import Fastify from 'fastify';
import { Pool } from 'undici';

/** @param {string} upstream the upstream's base URL, ending in /v1 */
export async function startBareProxy(upstream) {
  const target = new URL(upstream);
  const pool = new Pool(target.origin, { connections: 512, pipelining: 1 });
  const app = Fastify();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post('/v1/chat/completions', async (request, reply) => {
    const res = await pool.request({
      method: 'POST',
      path: `${target.pathname}/chat/completions`,
      headers: { 'content-type': 'application/json' },
      body: /** @type {Buffer} */ (request.body),
    });
    reply.code(res.statusCode).header('content-type', String(res.headers['content-type'] ?? 'application/json'));
    return reply.send(res.body);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, close: () => app.close() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const proxy = await startBareProxy(process.argv[2] ?? '');
  console.log(`ready ${proxy.url}`);
  process.once('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
}
