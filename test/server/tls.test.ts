// The TLS set-ups of docs/security.md, run for real: nginx with the documented server block in front of the
// gateway, and the fastify plugin inside Node's own HTTPS server. A self-signed certificate made by openssl.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { switchyardPlugin } from '../../src/server/index.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { pollUntil } from '../helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-tls-'));
const keyFile = join(dir, 'server.key');
const certFile = join(dir, 'server.crt');
const apiKey = 'sk-tls-user-0123456789';
let cert: Buffer;
let g: Gateway;
const cleanup: (() => unknown)[] = [];

beforeAll(async () => {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  cert = readFileSync(certFile);
  g = await startGateway({ mocks: [{ chunkDelayMs: 5 }], server: { apiKeys: [apiKey] } });
}, 30_000);
afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await g?.close();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An HTTPS request that trusts only our certificate; the body is read whole, chunks counted. */
function https(port: number, options: { method: string; path: string; headers?: Record<string, string>; body?: string }) {
  return new Promise<{ status: number; body: string; chunks: number }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port, ca: cert, ...options }, (res) => {
      let body = '';
      let chunks = 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        chunks++;
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, chunks }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end(options.body);
  });
}

const streamed = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'tell me a story' }], stream: true });

describe('TLS', () => {
  it('behind nginx with the server block of docs/security.md, streams included', async () => {
    const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
    const block = /```nginx\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    const port = await freePort();
    const server = (block ?? '')
      .replace('listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`)
      .replace('/etc/ssl/llm.example.com.crt', certFile)
      .replace('/etc/ssl/llm.example.com.key', keyFile)
      .replace('127.0.0.1:8787', new URL(g.url).host);
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${join(dir, t)};`).join(' ');
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      `${process.getuid?.() === 0 ? 'user root;' : ''} worker_processes 1; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'error.log')};
events { worker_connections 64; }
http { access_log off; ${temp}
${server}
}`,
    );
    const nginx: ChildProcess = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          if (nginx.exitCode !== null) return resolve();
          nginx.once('exit', () => resolve());
          nginx.kill('SIGTERM');
        }),
    );
    // nginx is up when its health route answers through it.
    const health = () =>
      https(port, { method: 'GET', path: '/healthz' }).then(
        (r) => r.status,
        () => 0,
      );
    await pollUntil(health, (status) => status === 200, 10_000);
    expect((await https(port, { method: 'GET', path: '/v1/models' })).status).toBe(401);
    const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    const res = await https(port, { method: 'POST', path: '/v1/chat/completions', headers, body: streamed });
    expect(res.status).toBe(200);
    expect(res.body.trim().endsWith('data: [DONE]')).toBe(true);
    // Unbuffered: the stream arrived in many pieces, not as one body at the end.
    expect(res.chunks).toBeGreaterThan(3);
  }, 30_000);

  it("embedded in Node's own HTTPS server through the plugin, with keys", async () => {
    const app = Fastify({ https: { key: readFileSync(keyFile), cert } });
    await app.register(switchyardPlugin, { runtime: g.runtime, apiKeys: [apiKey] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanup.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    expect((await https(port, { method: 'GET', path: '/v1/models' })).status).toBe(401);
    const ok = await https(port, { method: 'GET', path: '/v1/models', headers: { authorization: `Bearer ${apiKey}` } });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ object: 'list' });
  });
});
