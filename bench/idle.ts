// Idle footprint: the resident memory (VmRSS, Linux) of each server a few seconds after it listens, with no
// request served: `switchyard serve` over a memory store as a checkout runs it (TypeScript source, Node's type
// stripping) and as the installed package runs it (compiled to JavaScript, built here into .tmp/bench/dist), the
// bare proxy, and the peers when installed. Each is started `rounds` times; the median is reported.

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { percentile } from './output.ts';
import { startPortkey } from './peers.ts';
import { children, startServerProcess } from './spawn.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const settleMs = 3000;

export interface IdleRow {
  server: string;
  rssMiB: number;
  rounds: number;
}

const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

/** VmRSS of a process in KiB (Linux); NaN elsewhere. */
function rssKiB(pid: number | undefined): number {
  try {
    const line = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(line?.[1]);
  } catch {
    return Number.NaN;
  }
}

/** Starts a command, waits for `ready` in its output, lets it settle, reads its RSS and stops it. */
async function idleRss(args: string[], ready: RegExp): Promise<number> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } });
  children.push(proc);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start`)), 30_000);
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!ready.test(line)) return;
      clearTimeout(timer);
      resolve();
    });
  });
  await new Promise((r) => setTimeout(r, settleMs));
  const kib = rssKiB(proc.pid);
  proc.kill('SIGKILL');
  return kib;
}

async function median(rounds: number, measure: () => Promise<number>) {
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) samples.push(await measure());
  return mib(percentile(samples, 0.5));
}

export async function idle(quick: boolean, portkey: string | null): Promise<IdleRow[]> {
  const rounds = quick ? 1 : 3;
  const mock = await startServerProcess('mock');
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-idle-'));
  const config = join(dir, 'switchyard.json');
  writeFileSync(config, JSON.stringify({ providers: [{ id: 'mock', baseURL: `${mock.url}/v1`, models: { chat: 'mock-model' } }] }));
  const serve = ['serve', '--config', config, '--store', 'memory', '--port', '0'];
  const listening = /^switchyard listening/;
  // The package as users install it: compiled JavaScript, no type stripping.
  const dist = join(root, '.tmp/bench/dist');
  mkdirSync(dist, { recursive: true });
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      dist,
      '--declaration',
      'false',
      '--sourceMap',
      'false',
    ],
    { cwd: root, stdio: 'inherit' },
  );
  const rows: IdleRow[] = [
    {
      server: 'switchyard serve, memory store (built package, dist/)',
      rssMiB: await median(rounds, () => idleRss([join(dist, 'cli.js'), ...serve], listening)),
      rounds,
    },
    {
      server: 'switchyard serve, memory store (source, type-stripped)',
      rssMiB: await median(rounds, () => idleRss([join(root, 'src/cli.ts'), ...serve], listening)),
      rounds,
    },
    {
      server: 'bare proxy (fastify + undici, JavaScript)',
      rssMiB: await median(rounds, () => idleRss([join(root, 'bench/bare-proxy.js'), `${mock.url}/v1`], /^ready /)),
      rounds,
    },
  ];
  if (portkey) {
    const rss = await median(rounds, async () => {
      const peer = await startPortkey(portkey);
      await new Promise((r) => setTimeout(r, settleMs));
      const kib = rssKiB(peer.proc.pid);
      peer.proc.kill('SIGKILL');
      return kib;
    });
    const { version } = JSON.parse(readFileSync(join(portkey, 'node_modules/@portkey-ai/gateway/package.json'), 'utf8')) as {
      version: string;
    };
    rows.push({ server: `Portkey ${version}`, rssMiB: rss, rounds });
  }
  mock.proc.kill('SIGTERM');
  return rows;
}

export function idleMarkdown(rows: IdleRow[]): string[] {
  return [
    `Idle footprint: RSS ${settleMs / 1000} s after the server listens, no request served, median of ${rows[0]?.rounds ?? 1} start(s).`,
    '',
    '| idle server | RSS |',
    '| --- | --- |',
    ...rows.map((r) => `| ${r.server} | ${r.rssMiB} MiB |`),
  ];
}
