// Reloads under continuous load over a real server and mock upstreams on loopback: a deployment is added, one
// changed and one removed while plain and streamed requests keep flowing through the openai SDK. No request
// fails, every stream of the removed deployment finishes on it (none cut, none continued elsewhere), and the
// unchanged deployment keeps its actor and its metrics.

import { afterAll, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { pollUntil, waitUntil } from '../helpers/wait.ts';

let gw: Gateway;
afterAll(async () => gw?.close());

const prompt = 'tell me a story about switchyards and trains arriving at night '.repeat(2);

interface Load {
  done: number;
  failures: unknown[];
  streams: number;
  stop: boolean;
}

/** Workers that alternate plain and streamed requests until `load.stop` (or a bound) is reached. */
async function runLoad(workers: number, load: Load): Promise<void> {
  const worker = async (w: number) => {
    for (let i = 0; i < 400 && !load.stop; i++) {
      try {
        if ((i + w) % 2 === 0) {
          const reply = await gw.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: prompt }] });
          if (!reply.choices[0]?.message.content) throw new Error('empty reply');
        } else {
          const stream = await gw.client.chat.completions.create({
            model: 'chat',
            stream: true,
            messages: [{ role: 'user', content: prompt }],
          });
          let text = '';
          let finish: string | null = null;
          for await (const chunk of stream) {
            text += chunk.choices[0]?.delta.content ?? '';
            finish = chunk.choices[0]?.finish_reason ?? finish;
          }
          if (finish !== 'stop' || text === '') throw new Error(`stream ended with ${finish} after ${text.length} chars`);
          load.streams++;
        }
      } catch (err) {
        load.failures.push(err);
      }
      load.done++;
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
}

describe('reload under load', () => {
  it('adds, changes and removes deployments with 0 failed requests and every removed stream finished', async () => {
    gw = await startGateway({ mocks: [{ chunkDelayMs: 5 }, { chunkDelayMs: 5 }, { chunkDelayMs: 5 }] });
    const [b, a, c] = gw.mocks.map((m) => m.url) as [string, string, string];
    const provider = (id: string, url: string, extra: object = {}) => ({ id, baseURL: url, models: { chat: 'mock-model' }, ...extra });
    const config = (providers: SwitchyardConfigInput['providers']): SwitchyardConfigInput => ({
      providers,
      routing: { deadlineMs: 10_000 },
    });
    // B first: it serves everything (priority), A is its fallback.
    await gw.runtime.reload(config([provider('b', b), provider('a', a)]));
    const view = (id: string) => gw.runtime.providers().find((p) => p.id === id);

    const load: Load = { done: 0, failures: [], streams: 0, stop: false };
    const running = runLoad(6, load);
    try {
      await waitUntil(() => load.done >= 20, 20_000);
      const servedByB = view('b/mock-model')?.metrics.requests ?? 0;
      expect(servedByB).toBeGreaterThan(0);

      // 1: add C, change A's wire and health options; B is untouched.
      const first = await gw.runtime.reload(
        config([
          provider('b', b),
          provider('a', a, { timeoutMs: 20_000, headers: { 'x-team': 'blue' }, health: { probeCount: 2 } }),
          provider('c', c),
        ]),
      );
      expect(first.deployments).toEqual({ added: ['c/mock-model'], changed: ['a/mock-model'], removed: [], unchanged: ['b/mock-model'] });
      expect(view('b/mock-model')?.metrics.requests).toBeGreaterThanOrEqual(servedByB);
      expect(view('b/mock-model')?.health).toBe('healthy');

      await waitUntil(() => load.done >= 50, 20_000);
      // 2: remove B while it has streams in flight.
      await waitUntil(() => gw.mocks[0]?.stats().inFlight !== 0, 10_000);
      const second = await gw.runtime.reload(config([provider('a', a), provider('c', c)]));
      expect(second.deployments.removed).toEqual(['b/mock-model']);
      const draining = view('b/mock-model');
      expect(draining?.health).toBe('draining');
      expect(draining?.metrics.inFlight).toBeGreaterThan(0);
      // Calls started on B (settled + in flight): admission is synchronous, so none can start unseen.
      const atRemoval = draining?.metrics.requests ?? 0;

      await waitUntil(() => load.done >= 90, 20_000);
      // B took nothing new, and was stopped once its last call ended.
      let last = draining;
      await pollUntil(
        async () => {
          const now = view('b/mock-model');
          if (now) last = now;
          return now;
        },
        (v) => v === undefined,
        10_000,
      );
      expect(last?.metrics.requests).toBe(atRemoval);

      // 3: change A's key, headers and timeouts while it serves streams: they finish on the connections they started on.
      await waitUntil(() => gw.mocks[1]?.stats().inFlight !== 0, 10_000);
      const aBefore = view('a/mock-model');
      const third = await gw.runtime.reload(
        config([provider('a', a, { apiKey: 'sk-rotated-0001', timeoutMs: 15_000, headers: { 'x-team': 'green' } }), provider('c', c)]),
      );
      expect(third.deployments.changed).toEqual(['a/mock-model']);
      expect(view('a/mock-model')?.metrics.requests).toBeGreaterThanOrEqual(aBefore?.metrics.requests ?? 0);
      const done = load.done;
      await waitUntil(() => load.done >= done + 30, 20_000);
    } finally {
      load.stop = true;
      await running;
    }
    expect(load.failures).toEqual([]);
    expect(load.streams).toBeGreaterThan(10);
    // Nothing of B's was cut: no client went away from it, and no stream had to be continued elsewhere.
    expect(gw.mocks[0]?.stats().aborted).toBe(0);
    expect(gw.runtime.decisions().filter((d) => d.route.continued)).toEqual([]);
    expect(gw.mocks[1]?.stats().requests).toBeGreaterThan(0);
    expect(gw.mocks[1]?.stats().aborted).toBe(0);
    expect(gw.runtime.configStatus().version).toBe(4);
  });
});
