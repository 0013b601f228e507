import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { waitUntil } from './helpers/wait.ts';

const bin = new URL('../bin/switchyard.js', import.meta.url).pathname;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Runs the CLI to completion and returns its exit code and output. */
async function run(args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [code] = await once(child, 'exit');
  return { code: code as number, stdout, stderr };
}

describe('switchyard CLI', () => {
  it('documents every command and flag in --help', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const flag of [
      'serve',
      '--config',
      '--store',
      '--drain-ms',
      '--drain-delay-ms',
      '--drain-timeout-ms',
      'mock',
      'demo',
      '--port',
      '--host',
      '--latency-ms',
      '--chunk-delay-ms',
      '--context-window',
      '--api-key',
      '--once',
      '--stately',
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  it('names the example config and docs/configuration.md in --help', async () => {
    const { stdout } = await run(['--help']);
    expect(stdout).toContain('switchyard serve --config examples/config/switchyard.yaml --store memory');
    expect(stdout).toContain('node_modules/switchyard/examples/config/');
    expect(stdout).toContain('docs/configuration.md');
  });

  it('refuses a bad flag value with a clear message and exit code 2', async () => {
    const { code, stderr } = await run(['mock', '--port', 'eighty']);
    expect(code).toBe(2);
    expect(stderr).toContain('--port: expected an integer');
  });

  it('refuses a drain delay that is not a whole number of milliseconds before serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const config = join(dir, 'switchyard.json');
    writeFileSync(config, JSON.stringify({ providers: [{ id: 'p', baseURL: 'http://127.0.0.1:9/v1', models: { chat: 'm' } }] }));
    const { code, stderr } = await run(['serve', '--config', config, '--store', 'memory', '--port', '0', '--drain-delay-ms', '1.5']);
    expect(code).toBe(2);
    expect(stderr).toContain('--drain-delay-ms: expected an integer');
  });

  it('refuses a Stately inspector URL that is not ws:// before serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const config = join(dir, 'switchyard.json');
    writeFileSync(config, JSON.stringify({ providers: [{ id: 'p', baseURL: 'http://127.0.0.1:9/v1', models: { chat: 'm' } }] }));
    const { code, stderr } = await run([
      'serve',
      '--config',
      config,
      '--store',
      'memory',
      '--port',
      '0',
      '--stately',
      'http://127.0.0.1:8080',
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('stately.url: expected a ws:// or wss:// URL');
  });

  it("serve takes the config's auth.keys: a user key reads models and is refused operator routes, the admin key is not", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const config = join(dir, 'switchyard.json');
    const auth = {
      keys: [
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${VAR} syntax
        { key: '${TEAM_KEY}', tenant: 'team-a' },
        { key: 'sk-cli-admin-0123456789', role: 'admin' },
      ],
    };
    writeFileSync(config, JSON.stringify({ providers: [{ id: 'p', baseURL: 'http://127.0.0.1:9/v1', models: { chat: 'm' } }], auth }));
    const child = spawn(process.execPath, [bin, 'serve', '--config', config, '--store', 'memory', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TEAM_KEY: 'sk-cli-team-0123456789', SWITCHYARD_API_KEYS: '', SWITCHYARD_ADMIN_KEYS: '' },
    });
    children.push(child);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    await waitUntil(() => /switchyard listening: (\S+)\/v1/.test(output), 10_000);
    const url = /switchyard listening: (\S+)\/v1/.exec(output)?.[1];
    expect(output).not.toContain('no API keys configured');
    const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
    expect((await fetch(`${url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${url}/v1/models`, as('sk-cli-team-0123456789'))).status).toBe(200);
    expect((await fetch(`${url}/v1/providers`, as('sk-cli-team-0123456789'))).status).toBe(403);
    expect((await fetch(`${url}/v1/providers`, as('sk-cli-admin-0123456789'))).status).toBe(200);
  }, 20_000);

  it('refuses an unknown command', async () => {
    const { code, stderr } = await run(['explode']);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command "explode"');
  });

  it('runs the mock upstream on the port it prints, and it answers chat completions', async () => {
    const child = spawn(process.execPath, [bin, 'mock', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const url = /listening: (\S+)/.exec(line.toString())?.[1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const res = await fetch(`${url}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });

  it('runs the main job: the gateway serves, the primary cools down during the outage, every request is answered', async () => {
    const { code, stdout } = await run(['demo', '--once', '--port', '0', '--store', 'memory']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/serving the logical model "chat" at http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions/);
    expect(stdout).toContain('primary → coolingDown');
    expect(stdout).toContain('40 requests through the gateway, 40 answered, 0 failed.');
    expect(stdout).toContain('Final states: primary healthy');
  }, 40_000);

  it('keeps narrating after its scenario: state changes, failed-over and failed requests, until stopped', async () => {
    const child = spawn(process.execPath, [bin, 'demo', '--port', '0', '--store', 'memory'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OPENAI_API_KEY: '' },
    });
    children.push(child);
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    await waitUntil(() => stdout.includes('Still serving'), 40_000);
    onTestFailed(() => console.log(stdout));
    const gateway = /at (http:\/\/127\.0\.0\.1:\d+)\/v1\/chat\/completions/.exec(stdout)?.[1];
    const mocks = ['primary', 'backup', 'flaky'].map((name) => new RegExp(`${name}: (http://\\S+)/v1`).exec(stdout)?.[1]);
    const narration = () => stdout.slice(stdout.indexOf('Still serving'));
    const chat = () =>
      fetch(`${gateway}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
      });
    const breakMock = (url: string | undefined) =>
      fetch(`${url}/_mock/faults`, { method: 'POST', body: JSON.stringify({ mode: 'error', status: 503 }) });

    await breakMock(mocks[0]);
    // The primary's window still holds the scenario's successes: it trips after enough failures outweigh them.
    for (let i = 0; i < 40 && !narration().includes('primary → coolingDown'); i++) expect((await chat()).status).toBe(200);
    await waitUntil(() => narration().includes('primary → coolingDown'), 5000);
    await waitUntil(() => /served by backup after primary: provider_unavailable/.test(narration()), 5000);

    await Promise.all([breakMock(mocks[1]), breakMock(mocks[2])]);
    for (let i = 0; i < 3; i++) await chat();
    await waitUntil(() => /request for "chat" failed: \w+/.test(narration()), 5000);

    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  }, 60_000);
});
