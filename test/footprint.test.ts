// The idle footprint of a plain gateway: `switchyard serve` loads what every request needs, and the rest only
// when something uses it — the tokenizer (tiktoken's WASM) on the first conversation message, the inspector's
// layout engine (elkjs) on the first visit to /inspect; and it starts with a small young generation. The child
// records every package it loads, when it loads.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../src/mock/server.ts';
import { waitUntil } from './helpers/wait.ts';

const bin = new URL('../bin/switchyard.js', import.meta.url).pathname;
const hook = new URL('./fixtures/loaded-hook.ts', import.meta.url).pathname;
const config = new URL('../examples/config/switchyard.yaml', import.meta.url).pathname;

let child: ChildProcess | undefined;
let mock: MockUpstream | undefined;
afterEach(async () => {
  child?.kill('SIGKILL');
  await mock?.close();
  child = undefined;
  mock = undefined;
});

describe('idle footprint', () => {
  it('a plain gateway loads no tokenizer, SQLite, Redis, Postgres, metrics extras or inspector assets until used', async () => {
    // The mock counts tokens itself: it runs here, not in the child.
    mock = await startMockUpstream({ port: 0 });
    const file = join(mkdtempSync(join(tmpdir(), 'switchyard-footprint-')), 'loaded.txt');
    const loaded = () => readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const serve = spawn(process.execPath, ['--import', hook, bin, 'serve', '--config', config, '--store', 'memory', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOADED_FILE: file, MOCK_URL: mock.url, SWITCHYARD_API_KEYS: '', SWITCHYARD_ADMIN_KEYS: '' },
    });
    child = serve;
    let output = '';
    serve.stdout?.on('data', (d) => (output += d));
    await waitUntil(() => /switchyard listening: (\S+)\/v1/.test(output), 15_000);
    const url = /switchyard listening: (\S+)\/v1/.exec(output)?.[1] ?? '';

    // Started, and answered a stateless request plain and streamed: what a plain gateway does.
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'Hello there.' }];
    expect((await client.chat.completions.create({ model: 'chat', messages })).choices[0]?.message.content).toBeTruthy();
    const stream = await client.chat.completions.create({ model: 'chat', messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).not.toBe('');
    // Its young generation stayed at its initial size while it started (src/startup-heap.ts): 2 × 1 MB, where
    // V8 left alone grows it to 2 × 16 MB and keeps it.
    serve.kill('SIGUSR2');
    await waitUntil(() => loaded().some((line) => line.startsWith('new_space ')), 5000);
    const young = Number(
      loaded()
        .find((line) => line.startsWith('new_space '))
        ?.split(' ')[1],
    );
    expect(young).toBeLessThanOrEqual(4);
    const plain = loaded();
    expect(plain).toEqual(expect.arrayContaining(['fastify', 'undici', 'xstate']));
    // What only some gateways use: the tokenizer, SQLite, a cluster's Redis, a Postgres store, the Stately
    // bridge, the inspector's page and layout; and prom-client's default process metrics (they pull in
    // @opentelemetry/api), which Switchyard never collects.
    for (const lazy of [
      'tiktoken',
      'elkjs',
      'node:sqlite',
      'ioredis',
      'pg',
      '@statelyai/inspect',
      '@opentelemetry/api',
      'src/server/inspect/page.ts',
      'src/inspection/layout.ts',
    ]) {
      expect(plain, `${lazy} loaded by an idle gateway`).not.toContain(lazy);
    }

    // The page's text loads with the first visit to /inspect.
    const page = await fetch(`${url}/inspect`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    expect(loaded()).toContain('src/server/inspect/page.ts');

    // The first visit to the inspector lays its charts out: elkjs now, and still no tokenizer.
    const machines = await fetch(`${url}/inspect/machines`);
    expect(machines.status).toBe(200);
    expect(Object.keys((await machines.json()) as object)).toContain('provider');
    expect(loaded()).toContain('elkjs');
    expect(loaded()).not.toContain('tiktoken');

    // A conversation counts its messages' tokens: the tokenizer loads with its first message.
    const created = await fetch(`${url}/v1/conversations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat' }),
    });
    const { id } = (await created.json()) as { id: string };
    const posted = await fetch(`${url}/v1/conversations/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'Count me.' }),
    });
    expect(posted.status).toBe(200);
    expect(loaded()).toContain('tiktoken');
  }, 30_000);
});
