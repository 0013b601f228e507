import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { waitUntil } from '../helpers/wait.ts';

const bin = new URL('../../bin/switchyard.js', import.meta.url).pathname;
const example = (ext: string) => new URL(`../../examples/config/switchyard.${ext}`, import.meta.url).pathname;
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  // The parent's environment minus what a config may reference, so a test sees only what it sets.
  const { MOCK_URL: _u, MOCK_API_KEY: _k, ...base } = process.env;
  const child = spawn(process.execPath, [bin, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.push(() => child.kill('SIGKILL'));
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  return { child, out };
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { child, out } = start(args, env);
  const [code] = (await once(child, 'exit')) as [number];
  return { code, ...out };
}

function file(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-config-cli-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function mock(): Promise<MockUpstream> {
  const m = await startMockUpstream();
  cleanup.push(() => m.close());
  return m;
}

async function serveOneChat(child: ChildProcess, out: { stdout: string }, upstream: MockUpstream) {
  await waitUntil(() => /switchyard listening: (\S+)\/v1/.test(out.stdout), 15_000);
  const url = /switchyard listening: (\S+)\/v1/.exec(out.stdout)?.[1];
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const reply = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hello' }] });
  expect(reply.choices[0]?.message.content).toBeTruthy();
  expect(upstream.stats().requests).toBeGreaterThanOrEqual(1);
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  expect(code).toBe(0);
}

describe('switchyard config check / print and serve', () => {
  it.each(['yaml', 'json'])(
    'the %s example passes config check and starts the gateway, which answers a chat and stops on SIGTERM',
    async (ext) => {
      const upstream = await mock();
      const env = { MOCK_URL: upstream.url };
      const check = await run(['config', 'check', example(ext)], env);
      expect(check).toMatchObject({ code: 0, stderr: '' });
      expect(check.stdout).toContain('ok (2 providers; models: chat, long)');
      const { child, out } = start(['serve', '--config', example(ext), '--port', '0', '--store', 'memory'], { ...env, LOG_LEVEL: 'warn' });
      await serveOneChat(child, out, upstream);
    },
    30_000,
  );

  const good = 'providers:\n  - id: a\n    baseURL: http://127.0.0.1:9/v1\n    models: { chat: m }\n';
  it.each([
    ['an unknown key', `${good}    wieght: 2\n`, 'providers[0].wieght: unknown option'],
    ['a wrong type', `${good}    timeoutMs: 5s\n`, 'providers[0].timeoutMs: expected a number in [1, 2147483647]'],
    ['a bad URL', good.replace('http://127.0.0.1:9/v1', 'ftp://127.0.0.1/v1'), 'providers[0].baseURL: expected a URL'],
    [
      'a missing environment variable',
      `${good}    apiKey: \${SWITCHYARD_TEST_UNSET}\n`,
      'providers[0].apiKey: environment variable SWITCHYARD_TEST_UNSET is not set',
    ],
    ['a duplicate YAML key', `${good}    models: { other: m }\n`, 'providers[0].models: duplicate key'],
  ])(
    'refuses %s with one error naming the path, through config check (exit 1) and serve (exit 2)',
    async (_, text, expected) => {
      const path = file('switchyard.yaml', text);
      const check = await run(['config', 'check', path]);
      expect(check.code).toBe(1);
      expect(check.stderr).toContain(`${path}: 1 error\n  ${expected}`);
      expect(check.stderr.trim().split('\n')).toHaveLength(2);
      const serve = await run(['serve', '--config', path, '--port', '0', '--store', 'memory']);
      expect(serve.code).toBe(2);
      expect(serve.stderr).toContain(`switchyard: ${path}: ${expected}`);
      expect(serve.stdout).not.toContain('listening');
    },
    20_000,
  );

  it('lists every error of every file, and exits 1 when any file is bad', async () => {
    const bad = file('bad.json', JSON.stringify({ providers: [{ id: 'a b', baseURL: 'x', models: {} }], routing: { maxAttempts: 0 } }));
    const { code, stdout, stderr } = await run(['config', 'check', example('yaml'), bad]);
    expect(code).toBe(1);
    expect(stdout).toContain(`${example('yaml')}: ok`);
    expect(stderr).toContain(`${bad}: 4 errors`);
    for (const path of ['providers[0].id', 'providers[0].baseURL', 'providers[0].models', 'routing.maxAttempts']) {
      expect(stderr).toContain(`  ${path}: expected`);
    }
  });

  it('prints the resolved config with defaults applied, references resolved and secrets masked', async () => {
    const { code, stdout } = await run(['config', 'print', example('json')], {
      MOCK_URL: 'http://127.0.0.1:1/v1',
      MOCK_API_KEY: 'sk-CANARY',
    });
    expect(code).toBe(0);
    const printed = JSON.parse(stdout) as { providers: { apiKey?: string; baseURL: string; weight: number }[]; routing: unknown };
    expect(stdout).not.toContain('CANARY');
    expect(printed.providers[0]).toMatchObject({ apiKey: '********', baseURL: 'http://127.0.0.1:1/v1', weight: 1 });
    expect(printed.routing).toMatchObject({ strategy: 'priority', hedgeAfterMs: null });
    const yaml = await run(['config', 'print', example('yaml')], { MOCK_API_KEY: 'sk-CANARY' });
    expect(yaml.stdout).toContain('apiKey: "********"');
    expect(yaml.stdout).not.toContain('CANARY');
  });

  it('refuses config without a subcommand or a file, with the usage and exit code 2', async () => {
    for (const args of [['config'], ['config', 'check'], ['config', 'lint', 'x.yaml'], ['config', 'print', 'a.yaml', 'b.yaml']]) {
      const { code, stderr } = await run(args);
      expect(code).toBe(2);
      expect(stderr).toContain('usage: switchyard config check FILE');
    }
  });
});
