// Starting the benchmarks' servers, each in its own process (bench/servers.ts), and stopping them all at the end.

import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export const children: ChildProcess[] = [];

/** Starts `node bench/servers.ts <kind> <args…>`; resolves with the URL it prints once it listens. */
export function startServerProcess(
  kind: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [new URL('./servers.ts', import.meta.url).pathname, kind, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  children.push(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start`)), 20_000);
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('ready ')) return;
      clearTimeout(timer);
      resolve({ url: line.slice('ready '.length), proc });
    });
  });
}
