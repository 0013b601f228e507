// A `switchyard serve` process for tests of several instances: its own config in a temp dir, killed and its
// directory removed by the returned stop().

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from './wait.ts';

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** What the process printed (stdout and stderr), for a failure's message. */
  output(): string;
  /** SIGKILL, then removes its directory. */
  stop(): Promise<void>;
}

const bin = new URL('../../bin/switchyard.js', import.meta.url).pathname;

/** Starts `switchyard serve` with `config` (JSON) and extra flags; resolves once it listens. */
export async function startServe(config: unknown, flags: string[]): Promise<ServeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-serve-'));
  const file = join(dir, 'switchyard.json');
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [bin, 'serve', '--config', file, '--port', '0', ...flags], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(() => /switchyard listening: (\S+)\/v1/.test(output) || child.exitCode !== null, 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const url = /switchyard listening: (\S+)\/v1/.exec(output)?.[1];
  if (!url) {
    await stop();
    throw new Error(`switchyard serve did not start: ${output}`);
  }
  return { url, child, output: () => output, stop };
}
