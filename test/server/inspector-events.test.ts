// Finding 5 of issue 14: /inspect/events has a reader cap (503 inspector_busy beyond it), sends the whole state
// once (hello) and afterwards only what changed (delta), built once for all readers.

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { pollUntil } from '../helpers/wait.ts';

let g: Gateway;
beforeAll(async () => {
  g = await startGateway({ mocks: [{}, {}], server: { limits: { inspectorClients: 2 } } });
});
afterAll(async () => g.close());

/** Opens /inspect/events and yields its events as { event, data }. */
async function open(signal: AbortSignal) {
  const res = await fetch(`${g.url}/inspect/events`, { signal });
  const reader = res.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    status: res.status,
    async next(): Promise<{ event: string; data: unknown }> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end !== -1) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1] ?? '';
          const data = /^data: (.*)$/m.exec(frame)?.[1] ?? 'null';
          return { event, data: JSON.parse(data) };
        }
        const chunk = await reader?.read();
        if (!chunk || chunk.done) throw new Error('the event stream ended');
        buffer += decoder.decode(chunk.value, { stream: true });
      }
    },
  };
}

describe('/inspect/events', () => {
  it('refuses readers beyond the cap with 503 inspector_busy, and takes one again when a reader leaves', async () => {
    const first = new AbortController();
    const second = new AbortController();
    const a = await open(first.signal);
    const b = await open(second.signal);
    expect([a.status, b.status]).toEqual([200, 200]);
    const refused = await fetch(`${g.url}/inspect/events`);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('inspector_busy');
    first.abort();
    second.abort();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      const again = new AbortController();
      const c = await open(again.signal);
      status = c.status;
      again.abort();
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(200);
  });

  it('sends the whole state once, then only the deployment that changed', async () => {
    const stop = new AbortController();
    try {
      const events = await open(stop.signal);
      const hello = await events.next();
      expect(hello.event).toBe('hello');
      expect((hello.data as { providers: unknown[] }).providers).toHaveLength(2);
      await g.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
      // Deltas until the request's decision arrives (the call's start and its end may fall in different seconds).
      type Delta = { providers: { id: string }[]; decisions: unknown[]; conversations: { changed: unknown[]; removed: unknown[] } };
      const deltas: Delta[] = [];
      for (let i = 0; i < 100 && !deltas.some((d) => d.decisions.length > 0); i++) {
        const next = await events.next();
        expect(next.event).not.toBe('stats');
        if (next.event === 'delta') deltas.push(next.data as Delta);
      }
      expect(deltas.flatMap((d) => d.decisions)).toHaveLength(1);
      expect(new Set(deltas.flatMap((d) => d.providers.map((p) => p.id)))).toEqual(new Set(['p0/mock-model']));
      for (const d of deltas) expect(d.conversations).toEqual({ changed: [], removed: [] });
    } finally {
      stop.abort();
    }
  });
});

describe('/inspect/events with a reader that does not read', () => {
  it('cuts the reader once it is more than inspectorBufferBytes behind, which frees its place', async () => {
    const gw = await startGateway({ server: { limits: { inspectorClients: 1, inspectorBufferBytes: 64 * 1024 } } });
    try {
      const { port } = new URL(gw.url);
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write('GET /inspect/events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
      socket.pause(); // never read
      await pollUntil(
        async () => (await fetch(`${gw.url}/inspect/events`, { signal: AbortSignal.timeout(1000) }).catch(() => null))?.status,
        (status) => status === 503,
      );
      // Every operator command is a state change, broadcast as a transition record: megabytes of them, until
      // the reader is cut and its place is free again.
      const [deployment] = gw.runtime.providers();
      let status = 503;
      for (let batch = 0; batch < 50 && status === 503; batch++) {
        for (let i = 0; i < 1000; i++) {
          gw.runtime.disable(deployment?.id ?? '');
          gw.runtime.enable(deployment?.id ?? '');
        }
        const again = new AbortController();
        status = (await fetch(`${gw.url}/inspect/events`, { signal: again.signal })).status;
        again.abort();
      }
      expect(status).toBe(200);
      socket.destroy();
    } finally {
      await gw.close();
    }
  }, 30_000);
});
