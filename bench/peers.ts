// Optional peer gateways for side-by-side runs, never dependencies of Switchyard: Portkey's open-source gateway
// when `SWITCHYARD_BENCH_PORTKEY` (or `--portkey <dir>`) names a folder where `@portkey-ai/gateway` is installed
// (`npm install @portkey-ai/gateway@1` in a scratch folder). It runs on the same Node, headless, and is routed
// to the mock with its own headers: provider `openai` with the mock as the custom host (loopback is trusted).

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { children } from './spawn.ts';

export interface Peer {
  name: string;
  version: string;
  url: string;
  /** Headers every request needs to reach `upstream` through the peer. */
  headers: (upstream: string) => Record<string, string>;
  proc: ChildProcess;
}

/** The folder holding @portkey-ai/gateway, from `--portkey <dir>` or SWITCHYARD_BENCH_PORTKEY; null when none. */
export function portkeyFolder(argv: readonly string[]): string | null {
  const flag = argv.indexOf('--portkey');
  const dir = flag >= 0 ? argv[flag + 1] : process.env.SWITCHYARD_BENCH_PORTKEY;
  if (!dir) return null;
  const pkg = join(dir, 'node_modules/@portkey-ai/gateway/package.json');
  if (!existsSync(pkg)) throw new Error(`--portkey / SWITCHYARD_BENCH_PORTKEY: no @portkey-ai/gateway installed in ${dir}`);
  return dir;
}

/** A free loopback port: Portkey takes `--port=N` and has no port 0. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startPortkey(dir: string): Promise<Peer> {
  const root = join(dir, 'node_modules/@portkey-ai/gateway');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const port = await freePort();
  const proc = spawn(process.execPath, [join(root, 'build/start-server.js'), `--port=${port}`, '--headless'], {
    // Its stderr is dropped: it logs a stack for every failed request, and failures are counted by the runs.
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(proc);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Portkey did not start')), 30_000);
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!/Ready for connections/.test(line)) return;
      clearTimeout(timer);
      resolve();
    });
  });
  return {
    name: 'Portkey',
    version,
    url: `http://127.0.0.1:${port}`,
    headers: (upstream) => ({
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `${upstream}/v1`,
      authorization: 'Bearer bench',
    }),
    proc,
  };
}
