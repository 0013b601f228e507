// Issue 19's done-when for rolling restarts: two `switchyard serve` processes behind a real nginx, under
// continuous load with streams, each restarted in turn (SIGTERM, wait for the exit, start again on the same
// port): no client request fails and no stream is cut: each ends with [DONE] and its whole content.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess } from '../../bench/spawn.ts';
import { promptOf, replyFor } from '../../src/mock/reply.ts';
import { postJson, streamedContent } from '../helpers/http-exchange.ts';
import { startNginx, type TestNginx } from '../helpers/nginx.ts';
import { freePort } from '../helpers/ports.ts';
import { pollUntil, waitUntil } from '../helpers/wait.ts';

const drainDelayMs = 500;
const drainTimeoutMs = 10_000;
const workers = 8;
const cleanup: (() => Promise<unknown> | undefined)[] = [];

afterAll(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
}, 30_000);

interface Instance {
  port: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

async function startInstance(port: number, config: string, delayMs = drainDelayMs): Promise<Instance> {
  const bin = new URL('../../bin/switchyard.js', import.meta.url).pathname;
  const args = ['serve', '--config', config, '--port', String(port), '--store', 'memory'];
  const drain = ['--drain-delay-ms', String(delayMs), '--drain-timeout-ms', String(drainTimeoutMs)];
  const child = spawn(process.execPath, [bin, ...args, ...drain], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanup.push(() => {
    if (child.exitCode !== null || child.signalCode !== null) return undefined;
    child.kill('SIGKILL');
    return exited;
  });
  await waitUntil(() => output.includes('switchyard listening:') || child.exitCode !== null, 30_000);
  if (child.exitCode !== null) throw new Error(`switchyard serve exited: ${output}`);
  return { port, child, exited, output: () => output };
}

/** A sample of one instance's /metrics: the calls it has in flight and the requests it has answered. */
async function sample(port: number) {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  const sum = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
  return { inFlight: sum('switchyard_provider_in_flight'), answered: sum('switchyard_requests_total') };
}

const reply = (content: string) => replyFor(promptOf([{ role: 'user', content }]));

/** Requests through nginx until `stop()`, two streams to one plain request, each checked whole; bounded in count. */
async function load(nginx: TestNginx, stop: () => boolean) {
  const agent = new Agent({ keepAlive: true, maxSockets: workers });
  const client = new OpenAI({ baseURL: `${nginx.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const tally = { streams: 0, plain: 0, failures: [] as string[] };
  const one = async (worker: number, i: number) => {
    const content = `worker ${worker} request ${i}`;
    if (i % 3 === 2) {
      const answer = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content }] });
      if (answer.choices[0]?.message.content !== reply(content)) throw new Error(`plain answer not whole: ${JSON.stringify(answer)}`);
      tally.plain++;
      return;
    }
    const body = { model: 'chat', stream: true, messages: [{ role: 'user', content }] };
    const res = await postJson(`${nginx.url}/v1/chat/completions`, body, agent);
    const frames = await res.frames;
    if (res.status !== 200) throw new Error(`stream answered ${res.status}: ${frames.join(' ')}`);
    if (frames.at(-1) !== '[DONE]') throw new Error(`stream cut: ${frames.at(-1)}`);
    if (streamedContent(frames) !== reply(content)) throw new Error(`stream not whole: ${streamedContent(frames)}`);
    tally.streams++;
  };
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = 0; i < 2000 && !stop(); i++) {
        await one(worker, i).catch((err: unknown) => {
          tally.failures.push(err instanceof Error ? err.message : String(err));
        });
      }
    }),
  );
  agent.destroy();
  return tally;
}

describe('rolling restart behind nginx', () => {
  it('restarts each of two instances in turn under load with streams: no request fails, no stream is cut', async () => {
    // The upstream in its own process, slow enough that streams are in flight when an instance is stopped.
    const mock = await startServerProcess('mock', [], { CHUNK_DELAY_MS: '25' });
    cleanup.push(async () => mock.proc.exitCode === null && mock.proc.kill('SIGKILL'));
    await fetch(`${mock.url}/_mock/faults`, { method: 'POST', body: JSON.stringify({ latencyMs: 30 }) });
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-rolling-'));
    const config = join(dir, 'switchyard.json');
    writeFileSync(config, JSON.stringify({ providers: [{ id: 'mock', baseURL: `${mock.url}/v1`, models: { chat: 'mock-model' } }] }));
    const ports = [await freePort(), await freePort()];
    const instances = await Promise.all(ports.map((port) => startInstance(port, config)));
    // The nginx set-up of docs/operations.md, on these ports: passive health, retries on the other instance.
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const block = /### nginx[\s\S]*?```nginx\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
    expect(block).toContain('proxy_next_upstream');
    const nginx = await startNginx((port) =>
      block
        .replace('127.0.0.1:8787', `127.0.0.1:${ports[0]}`)
        .replace('127.0.0.1:8788', `127.0.0.1:${ports[1]}`)
        .replace('listen 80;', `listen 127.0.0.1:${port};`),
    );
    cleanup.push(() => nginx.stop());

    let stopped = false;
    const running = load(nginx, () => stopped);
    const drainedInMs: number[] = [];
    const restarts: { inFlight: number; readyz: number; exitCode: number | null }[] = [];
    try {
      for (const [n, port] of ports.entries()) {
        // Once it serves and has calls in flight (streams among them), stop it the way Kubernetes does.
        const before = await pollUntil(
          () => sample(port),
          (s) => s.answered >= 20 && s.inFlight >= 2,
          20_000,
        );
        const instance = instances[n];
        if (!instance) throw new Error('no instance');
        const signalledAt = performance.now();
        instance.child.kill('SIGTERM');
        const readyz = await pollUntil(
          () =>
            fetch(`http://127.0.0.1:${port}/readyz`).then(
              (r) => r.status,
              () => 0,
            ),
          (status) => status !== 200,
          5000,
        );
        const exitCode = await instance.exited;
        drainedInMs.push(Math.round(performance.now() - signalledAt));
        restarts.push({ inFlight: before.inFlight, readyz, exitCode });
        instances[n] = await startInstance(port, config);
        // The next one is stopped only once nginx sends to this one again (as Kubernetes waits for readiness).
        await pollUntil(
          () => sample(port),
          (s) => s.answered >= 20,
          20_000,
        );
      }
    } finally {
      stopped = true;
    }
    const tally = await running;
    const log = nginx.accessLog().filter((line) => line.includes(' /v1/chat/completions '));
    const retried = log.filter((line) => line.includes(','));
    console.log(
      `rolling restart: ${tally.streams} streams and ${tally.plain} plain requests, ${tally.failures.length} failed; ` +
        `nginx retried ${retried.length} of ${log.length} on the other instance; at each SIGTERM ${restarts.map((r) => r.inFlight).join(' and ')} calls in flight, drained in ${drainedInMs.join(' and ')} ms`,
    );
    expect(tally.failures).toEqual([]);
    expect(restarts).toEqual([
      { inFlight: expect.any(Number), readyz: 503, exitCode: 0 },
      { inFlight: expect.any(Number), readyz: 503, exitCode: 0 },
    ]);
    expect(tally.streams).toBeGreaterThan(50);
    expect(log.every((line) => line.startsWith('200 '))).toBe(true);
  }, 180_000);

  it('skips the rest of a long drain delay on a second SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-rolling-'));
    const config = join(dir, 'switchyard.json');
    writeFileSync(config, JSON.stringify({ providers: [{ id: 'p', baseURL: 'http://127.0.0.1:9/v1', models: { chat: 'm' } }] }));
    const port = await freePort();
    // A delay far beyond the test's time: only the second signal can end it.
    const instance = await startInstance(port, config, 600_000);
    instance.child.kill('SIGTERM');
    const draining = await pollUntil(
      () =>
        fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.json(),
          () => null,
        ),
      (body) => body !== null && (body as { status?: string }).status === 'draining',
      5000,
    );
    expect(draining).toEqual({ status: 'draining' });
    instance.child.kill('SIGTERM');
    expect(await instance.exited).toBe(0);
  }, 30_000);
});
