// A real Postgres for tests: its own cluster in a temp dir, on a free loopback port, never the system service.
// initdb refuses to run as root (CI runs as root): then the cluster belongs to the `postgres` user and its
// programs run through runuser.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';

const bin = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid?.() === 0;
const run = (program: string, args: string[]) =>
  (asRoot ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args]) as [string, string[]];

export interface TestPostgres {
  port: number;
  /** A URL to `database` (default: postgres) as the superuser. */
  url(database?: string): string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown: connections are closed), keeping its data. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  destroy(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-'));
  const data = join(dir, 'data');
  const socket = join(dir, 'sock');
  mkdirSync(socket);
  chmodSync(dir, 0o755);
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const [initdb, initArgs] = run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  execFileSync(initdb, initArgs, { stdio: 'ignore' });
  const port = await freePort();
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let child: ChildProcess | undefined;

  async function start() {
    const [program, args] = run(join(bin, 'postgres'), [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      socket,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
    ]);
    const proc = spawn(program, args, { stdio: 'ignore' });
    child = proc;
    // Ready when a connection succeeds: bounded in tries.
    for (let i = 0; i < 200; i++) {
      if (proc.exitCode !== null) throw new Error(`postgres exited with ${proc.exitCode}`);
      const client = new pg.Client({ connectionString: url() });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.end();
        return;
      } catch {
        await client.end().catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    throw new Error('postgres did not start');
  }

  async function stop() {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    // SIGINT is a fast shutdown (clients disconnected). runuser does not pass signals on: signal the
    // postmaster itself, by the pid it writes in its data directory.
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGINT');
    await exited;
  }

  await start();
  return {
    port,
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
