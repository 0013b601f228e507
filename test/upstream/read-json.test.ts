// Reading a non-streamed answer body: in many pieces, cut short by the upstream, stalled past the attempt's
// timeout, or cut by the caller going away. Each ends the call once, with the error it always had.

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/runtime.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function runtimeOver(answer: (res: ServerResponse) => void): Promise<Runtime> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  const port = (server.address() as AddressInfo).port;
  const runtime = createRuntime({
    providers: [{ id: 'up', baseURL: `http://127.0.0.1:${port}/v1`, models: { chat: 'm' }, timeoutMs: 300 }],
    routing: { maxAttempts: 1, deadlineMs: 10_000 },
  });
  cleanup.push(() => runtime.stop());
  return runtime;
}

const ask = { model: 'chat', messages: [{ role: 'user' as const, content: 'hi' }] };
const body = JSON.stringify({
  id: 'c',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'é'.repeat(50_000) }, finish_reason: 'stop' }],
});

describe('reading a non-streamed answer', () => {
  it('reads an answer sent in many small pieces, a character split between two of them', async () => {
    const runtime = await runtimeOver((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const bytes = Buffer.from(body);
      // Odd-sized pieces: some end inside a two-byte character.
      for (let i = 0; i < bytes.length; i += 4097) res.write(bytes.subarray(i, i + 4097));
      res.end();
    });
    const { completion } = await runtime.chat(ask);
    expect(completion.choices[0]?.message.content).toBe('é'.repeat(50_000));
  });

  it('fails the attempt as retryable when the upstream cuts the answer short', async () => {
    const runtime = await runtimeOver((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length * 2) });
      res.write(body.slice(0, 100), () => res.destroy());
    });
    await expect(runtime.chat(ask)).rejects.toMatchObject({
      code: 'provider_unavailable',
      retryable: true,
      message: expect.stringContaining('UND_ERR_SOCKET') as unknown,
    });
  });

  it("times out an answer whose body stalls, at the attempt's timeout", async () => {
    const runtime = await runtimeOver((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(body.slice(0, 100));
    });
    await expect(runtime.chat(ask)).rejects.toMatchObject({ code: 'provider_timeout', retryable: true });
  });

  it('ends the call when its caller goes away while the body is read', async () => {
    const caller = new AbortController();
    const runtime = await runtimeOver((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(body.slice(0, 100), () => caller.abort());
    });
    await expect(runtime.chat(ask, { signal: caller.signal })).rejects.toMatchObject({ code: 'aborted' });
  });
});
