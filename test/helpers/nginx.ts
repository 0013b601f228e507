// A real nginx as the test's own process: a generated config in a temp dir, on a free loopback port, in the
// foreground (`daemon off`), stopped by the test. Its access log records each request's upstream tries.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { pollUntil } from './wait.ts';

export interface TestNginx {
  url: string;
  /** One line per request: `<status> <uri> <upstream statuses, comma-separated when nginx tried more than one>`. */
  accessLog(): string[];
  /** nginx's error log: why it gave up on an upstream. */
  errorLog(): string;
  stop(): Promise<void>;
}

/** Starts nginx with `http` (the body of its http block, without temp paths and logs) listening on `port`. */
export async function startNginx(http: (port: number) => string): Promise<TestNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-nginx-'));
  const port = await freePort();
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${join(dir, t)};`).join(' ');
  const log = join(dir, 'access.log');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root;' : ''} worker_processes 1; error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http { ${temp}
  log_format tries '$status $request_uri $upstream_status';
  access_log ${log} tries;
${http(port)}
}`,
  );
  const nginx: ChildProcess = spawn('nginx', ['-p', dir, '-c', conf, '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], {
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await pollUntil(
    () =>
      fetch(url).then(
        () => true,
        () => nginx.exitCode !== null,
      ),
    (up) => up,
    10_000,
  );
  if (nginx.exitCode !== null) throw new Error(`nginx exited (${nginx.exitCode}): ${readFileSync(join(dir, 'error.log'), 'utf8')}`);
  return {
    url,
    accessLog: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line !== ''),
    errorLog: () => readFileSync(join(dir, 'error.log'), 'utf8'),
    stop: () =>
      new Promise<void>((resolve) => {
        if (nginx.exitCode !== null) return resolve();
        nginx.once('exit', () => resolve());
        nginx.kill('SIGTERM');
      }),
  };
}
