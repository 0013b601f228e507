// The Stately inspector link against a real WebSocket server on 127.0.0.1 standing in for
// @statelyai/inspect's bridge: what arrives, what never does (payloads), reconnection, and stop().

import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { redactedJson } from '../../src/inspection/stately.ts';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { waitUntil } from '../helpers/wait.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A free port on 127.0.0.1, closed again, for a server that starts later. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

/** A WebSocket server that keeps every message it gets, as parsed JSON. */
async function receiver(port: number) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const messages: { type: string; name?: string; sessionId?: string; snapshot?: { value?: unknown } }[] = [];
  const raw: string[] = [];
  const sockets: WebSocket[] = [];
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('message', (data) => {
      raw.push(data.toString());
      messages.push(JSON.parse(data.toString()));
    });
  });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.terminate();
      wss.close(() => resolve());
    });
  cleanup.push(close);
  return { wss, messages, raw, sockets, close };
}

const secret = 'the launch code is 0000';

async function runtimeWith(url: string): Promise<{ runtime: Runtime; breakUpstream: () => void }> {
  const mock = await startMockUpstream();
  cleanup.push(() => mock.close());
  const runtime = createRuntime(
    {
      providers: [{ id: 'p0', baseURL: mock.url, models: { chat: 'mock-model' } }],
      health: { tripConsecutiveFailures: 1, backoff: { initialMs: 60_000, jitter: 'none' } },
    },
    { stately: { url } },
  );
  cleanup.push(() => runtime.stop());
  return { runtime, breakUpstream: () => mock.setFaults({ mode: 'error', status: 503 }) };
}

describe('Stately inspector link', () => {
  it('registers every actor, streams their snapshots, and never sends message text', async () => {
    const port = await freePort();
    const server = await receiver(port);
    const { runtime, breakUpstream } = await runtimeWith(`ws://127.0.0.1:${port}`);
    const { id } = await runtime.conversations.create({ model: 'chat', system: secret });
    await runtime.conversations.post(id, secret);
    breakUpstream();
    await runtime.chat({ model: 'chat', messages: [{ role: 'user', content: secret }] }).catch(() => {});
    await waitUntil(() =>
      server.messages.some((m) => m.type === '@xstate.snapshot' && JSON.stringify(m.snapshot?.value ?? '').includes('recovering')),
    );
    const actors = server.messages.filter((m) => m.type === '@xstate.actor').map((m) => m.name);
    expect(actors).toEqual(expect.arrayContaining(['supervisor', 'p0/mock-model', `conversation:${id}`]));
    expect(server.messages.some((m) => m.type === '@xstate.event')).toBe(true);
    expect(server.raw.join('\n')).not.toContain('launch code');
    expect(server.raw.join('\n')).toContain('[redacted: 23 chars]');
  });

  it('keeps what happens before the inspector is up, connects when it comes, and stops for good', async () => {
    const port = await freePort();
    const { runtime } = await runtimeWith(`ws://127.0.0.1:${port}`);
    await runtime.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    // Nothing listens yet: the first attempt fails, a retry follows after half a second.
    const server = await receiver(port);
    await waitUntil(() => server.messages.some((m) => m.type === '@xstate.actor' && m.name === 'p0/mock-model'), 5000);
    await runtime.stop();
    await waitUntil(() => server.sockets.every((s) => s.readyState === s.CLOSED), 5000);
  });

  it('lets the process exit once stopped, even while it was waiting to reconnect', async () => {
    const port = await freePort();
    const child = spawnSync(process.execPath, [new URL('../fixtures/stately-child.ts', import.meta.url).pathname, String(port)], {
      timeout: 20_000,
      encoding: 'utf8',
    });
    expect(child.signal).toBeNull(); // not killed by the timeout: it ended by itself
    expect(child.status).toBe(0);
    expect(child.stdout).toContain('before stop: waiting');
    expect(child.stdout).toContain('after stop: stopped');
  });

  it('refuses a URL that is not ws:// or wss:// before opening anything', () => {
    expect(() =>
      createRuntime(
        { providers: [{ id: 'p', baseURL: 'http://127.0.0.1:9/v1', models: { chat: 'm' } }] },
        { stately: { url: 'http://x' } },
      ),
    ).toThrow(expect.objectContaining({ code: 'invalid_config', param: 'stately.url' }));
  });

  it('redacts payload keys at any depth and survives cycles', () => {
    const event: Record<string, unknown> = {
      type: 'x',
      turn: { content: 'hello', messages: [{ role: 'user', content: 'secret words' }] },
      n: 1,
    };
    event.self = event;
    const json = JSON.parse(redactedJson(event));
    expect(json).toEqual({
      type: 'x',
      turn: { content: '[redacted: 5 chars]', messages: [{ role: 'user', content: '[redacted: 12 chars]' }] },
      n: 1,
      self: '[circular]',
    });
  });
});
