// Reloads from the config file: --watch sees an editor's write-then-rename (debounced), a broken file is
// reported and changes nothing, SIGHUP re-reads the file; and `switchyard serve` wires SIGHUP up.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { reloadFromFile } from '../../src/reload/cli.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { pollUntil, waitUntil } from '../helpers/wait.ts';

let mock: MockUpstream | undefined;
let runtime: Runtime | undefined;
let unhook: (() => void) | undefined;
let child: ChildProcess | undefined;
afterEach(async () => {
  unhook?.();
  child?.kill('SIGKILL');
  await runtime?.stop();
  await mock?.close();
  [runtime, unhook, child, mock] = [undefined, undefined, undefined, undefined];
});

const configWith = (url: string, models: Record<string, string>) => JSON.stringify({ providers: [{ id: 'm', baseURL: url, models }] });

/** Writes like an editor that saves to a temporary file and renames it over the config. */
function editorWrite(path: string, text: string) {
  writeFileSync(`${path}.swp`, text);
  renameSync(`${path}.swp`, path);
}

async function setup() {
  mock = await startMockUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-reload-'));
  const path = join(dir, 'switchyard.json');
  writeFileSync(path, configWith(mock.url, { chat: 'mock-model' }));
  return { path, url: mock.url };
}

describe('reloads from the config file', () => {
  it('--watch applies a file renamed over the config, and reports a broken one without changing anything', async () => {
    const { path, url } = await setup();
    runtime = createRuntime(JSON.parse(configWith(url, { chat: 'mock-model' })));
    const lines: string[] = [];
    unhook = reloadFromFile(runtime, path, { watch: true, debounceMs: 50, log: (l) => lines.push(l) });
    const rt = runtime;

    editorWrite(path, configWith(url, { chat: 'mock-model', second: 'mock-model-2' }));
    await pollUntil(
      async () => rt.models(),
      (models) => models.includes('second'),
    );
    expect(rt.configStatus()).toMatchObject({ version: 1, source: 'file' });
    await waitUntil(() => lines.some((l) => l.includes('v1 applied (file)')));

    editorWrite(path, '{"providers": [{"id": "m", "baseURL": "nope", "models": {}}]}');
    await waitUntil(() => lines.some((l) => l.includes('rejected')));
    expect(lines.find((l) => l.includes('rejected'))).toContain('providers[0].baseURL');
    expect(rt.configStatus().version).toBe(1);
    expect(rt.models()).toEqual(['chat', 'second']);

    editorWrite(path, 'providers: [unclosed');
    await waitUntil(() => lines.filter((l) => l.includes('rejected')).length >= 2);
    expect(rt.configStatus().version).toBe(1);
  });

  it('re-reads the file on SIGHUP', async () => {
    const { path, url } = await setup();
    runtime = createRuntime(JSON.parse(configWith(url, { chat: 'mock-model' })));
    const rt = runtime;
    unhook = reloadFromFile(rt, path, { watch: false, log: () => {} });
    writeFileSync(path, configWith(url, { other: 'mock-model' }));
    process.emit('SIGHUP', 'SIGHUP');
    await pollUntil(
      async () => rt.models(),
      (models) => models.includes('other'),
    );
    expect(rt.configStatus()).toMatchObject({ version: 1, source: 'signal' });
  });

  it('starts a rollout the file adds on SIGHUP and stops it when the file drops it, saying so in the log', async () => {
    const { path, url } = await setup();
    const models = { 'chat-v1': 'mock-model', 'chat-v2': 'mock-model-2' };
    runtime = createRuntime(JSON.parse(configWith(url, models)));
    const rt = runtime;
    const lines: string[] = [];
    unhook = reloadFromFile(rt, path, { watch: false, log: (l) => lines.push(l) });
    const rollout = { id: 'v2', model: 'chat', from: 'chat-v1', to: 'chat-v2', holdMs: 600_000 };
    writeFileSync(path, JSON.stringify({ ...JSON.parse(configWith(url, models)), rollouts: [rollout] }));
    process.emit('SIGHUP', 'SIGHUP');
    await waitUntil(() => lines.includes('switchyard config: rollout v2 started'));
    expect(rt.rollout('v2')).toMatchObject({ state: 'ramping.step1.holding', percent: 10 });
    writeFileSync(path, configWith(url, models));
    process.emit('SIGHUP', 'SIGHUP');
    await waitUntil(() => lines.includes('switchyard config: rollout v2 stopped'));
    expect(rt.rollouts()).toEqual([]);
    expect(lines.filter((l) => l.includes('applies at the next restart'))).toEqual([]);
  });

  it('switchyard serve reloads its config on SIGHUP', async () => {
    const { path, url } = await setup();
    const bin = new URL('../../bin/switchyard.js', import.meta.url).pathname;
    const proc = spawn(process.execPath, [bin, 'serve', '--config', path, '--port', '0', '--store', 'memory'], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let output = '';
    proc.stdout?.on('data', (d) => (output += d));
    proc.stderr?.on('data', (d) => (output += d));
    await waitUntil(() => /switchyard listening: (\S+)\/v1/.test(output), 15_000).catch((err: unknown) => {
      throw new Error(`serve did not start: ${output}`, { cause: err });
    });
    const base = /switchyard listening: (\S+)\/v1/.exec(output)?.[1] ?? '';
    writeFileSync(path, configWith(url, { chat: 'mock-model', hup: 'mock-model' }));
    proc.kill('SIGHUP');
    await waitUntil(() => output.includes('switchyard config v1 applied (signal)'), 10_000);
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toContain('hup');
    const shown = await fetch(`${base}/admin/config`);
    expect(shown.headers.get('x-switchyard-config-version')).toBe('1');
  });
});
