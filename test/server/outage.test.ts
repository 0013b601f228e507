// A total outage through the gateway: with every deployment of the model down, requests answer 503
// `no_provider_available` with Retry-After at the next probe instead of piling up until the deadline. Time is a
// SimulatedClock and the router's wait is a sleep the test holds and releases: what the test counts is how many
// requests wait at once, never how long anything took.

import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { waitUntil } from '../helpers/wait.ts';

interface Held {
  ms: number;
  resolve(): void;
}

const down500 = { faults: { mode: 'error' as const, status: 500 } };
const ask = { model: 'chat', messages: [{ role: 'user', content: 'Is anyone there?' }] };

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function outage(config: Partial<SwitchyardConfigInput>) {
  const mocks: MockUpstream[] = await Promise.all([startMockUpstream(down500), startMockUpstream(down500)]);
  const clock = new SimulatedClock();
  const held = new Set<Held>();
  let mostHeld = 0;
  // The router's wait for a probe: held until the test releases it, dropped when a state change ends it early.
  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const entry: Held = {
        ms,
        resolve: () => {
          held.delete(entry);
          resolve();
        },
      };
      held.add(entry);
      mostHeld = Math.max(mostHeld, held.size);
      signal.addEventListener(
        'abort',
        () => {
          held.delete(entry);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  const runtime = createRuntime(
    { providers: mocks.map((m, i) => ({ id: `p${i}`, baseURL: m.url, models: { chat: 'mock-model' } })), ...config },
    { clock, sleep },
  );
  const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [] });
  close = async () => {
    for (const entry of held) entry.resolve();
    await server.shutdown(100);
    await Promise.all(mocks.map((m) => m.close()));
  };
  const post = () =>
    fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ask),
    });
  return {
    mocks,
    clock,
    held,
    mostHeld: () => mostHeld,
    post,
    /** Moves the clock past every held wait and lets them go. */
    release() {
      const longest = Math.max(0, ...[...held].map((h) => h.ms));
      clock.increment(longest);
      for (const entry of [...held]) entry.resolve();
    },
  };
}

async function answerOf(res: Response) {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message, retryAfter: res.headers.get('retry-after') };
}

describe('a total outage through the gateway', () => {
  it('with the default routing settings answers every request 503 at once, Retry-After at the next probe, none waiting', async () => {
    // Both circuits open on their first 500; their probes are 5 s off, past the default 1 s wait budget and far
    // inside the default 60 s deadline, which the router used to wait out.
    const o = await outage({ health: { minVolume: 1, tripConsecutiveFailures: 1, backoff: { initialMs: 5000, jitter: 'none' } } });
    const tripping = await answerOf(await o.post());
    expect(tripping).toMatchObject({ status: 503, code: 'no_provider_available', retryAfter: '5' });
    const calls = o.mocks.map((m) => m.stats().requests);

    const answers = await Promise.all(Array.from({ length: 16 }, async () => answerOf(await o.post())));
    for (const answer of answers) expect(answer).toMatchObject({ status: 503, code: 'no_provider_available', retryAfter: '5' });
    expect(o.mostHeld()).toBe(0);
    // Nothing reached the upstreams: their circuits are open.
    expect(o.mocks.map((m) => m.stats().requests)).toEqual(calls);
  });

  it('lets at most maxWaitingRequests wait for a probe; the rest answer 503 at once, and every request is answered', async () => {
    // Probes 500 ms off: inside the 1 s wait budget, so requests wait for them, three at most.
    const o = await outage({
      routing: { maxAttempts: 2, maxWaitingRequests: 3 },
      health: { minVolume: 1, tripConsecutiveFailures: 1, backoff: { initialMs: 500, jitter: 'none' } },
    });
    expect(await answerOf(await o.post())).toMatchObject({ status: 502, code: 'provider_unavailable' });

    const answers: Awaited<ReturnType<typeof answerOf>>[] = [];
    const requests = Array.from({ length: 8 }, async () => {
      const answer = await answerOf(await o.post());
      answers.push(answer);
      return answer;
    });
    await waitUntil(() => answers.length === 5 && o.held.size === 3, 5000);
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 503, code: 'no_provider_available', retryAfter: '1' });
      expect(answer.message).toMatch(/3 requests already wait/);
    }

    // The waiting three meet the probes (which fail: both upstreams still answer 500) or their wait budget.
    for (let round = 0; round < 20 && answers.length < 8; round++) {
      await waitUntil(() => o.held.size > 0 || answers.length === 8, 5000);
      o.release();
    }
    const all = await Promise.all(requests);
    expect(all).toHaveLength(8);
    for (const answer of all) expect([502, 503]).toContain(answer.status);
    expect(o.mostHeld()).toBe(3);
    expect(o.held.size).toBe(0);
  });
});
