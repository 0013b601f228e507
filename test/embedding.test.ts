import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../src/mock/server.ts';
import { createRuntime } from '../src/runtime.ts';
import { switchyardPlugin } from '../src/server/index.ts';

const run = promisify(execFile);
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('embedding', () => {
  it('examples/embed.ts runs against in-process mock upstreams and shows a failover', async () => {
    const { stdout } = await run(process.execPath, [new URL('../examples/embed.ts', import.meta.url).pathname], { timeout: 30_000 });
    expect(stdout).toContain('before the outage: served by primary/mock-model');
    expect(stdout).toMatch(
      /during the outage #1: served by backup\/mock-model \(attempts: primary\/mock-model:provider_unavailable backup\/mock-model:ok\)/,
    );
    expect(stdout).toContain('primary/mock-model: healthy →');
    expect(stdout).toContain('conversation: 4 messages stored');
  });

  it('importing the runtime loads no HTTP framework, no Stately inspector, no SQLite and no Postgres driver', async () => {
    const { stdout } = await run(process.execPath, [new URL('./fixtures/imports-child.ts', import.meta.url).pathname], { timeout: 30_000 });
    const packages = stdout.trim().split('\n');
    expect(packages).toContain('xstate');
    expect(packages).toContain('undici');
    // The upstream calls speak OpenAI's wire format directly; the SDK is a client, not part of the runtime.
    expect(packages).not.toContain('openai');
    // The Stately inspector link loads its package only when configured.
    expect(packages).not.toContain('@statelyai/inspect');
    expect(packages.filter((p) => /fastify|prom-client|pino/.test(p))).toEqual([]);
    // SQLite loads with the first sqlite: store, not with the import.
    expect(packages).toContain('node:fs');
    expect(packages).not.toContain('node:sqlite');
    // So does the Postgres driver, with the first postgres:// store.
    expect(packages).not.toContain('pg');
  });

  it('mounts as a fastify plugin under a prefix in an existing app', async () => {
    const mock = await startMockUpstream();
    cleanup.push(() => mock.close());
    const runtime = createRuntime({ providers: [{ id: 'p', baseURL: mock.url, models: { chat: 'mock-model' } }] });
    cleanup.push(() => runtime.stop());
    const app = Fastify();
    app.get('/', async () => ({ app: 'theirs' }));
    await app.register(switchyardPlugin, { runtime, prefix: '/llm' });
    cleanup.push(() => app.close());
    const ok = await app.inject({
      method: 'POST',
      url: '/llm/v1/chat/completions',
      payload: { model: 'chat', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().choices[0].message.content).toMatch(/\.$/);
    const bad = await app.inject({ method: 'POST', url: '/llm/v1/chat/completions', payload: { model: 'chat', messages: [] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.param).toBe('messages');
    expect((await app.inject({ method: 'GET', url: '/' })).json()).toEqual({ app: 'theirs' });
  });
});
