// Two mock upstreams (the baseline's model and the canary's) behind a runtime on a SimulatedClock, with a
// rollout or an experiment splitting the logical model `chat` across them.

import { SimulatedClock } from 'xstate';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type MockUpstream, type MockUpstreamOptions, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';

export interface Arms {
  mocks: [MockUpstream, MockUpstream];
  runtime: Runtime;
  clock: SimulatedClock;
  close(): Promise<void>;
}

/** p0 serves `chat-v1` (upstream `model-a`), p1 serves `chat-v2` (upstream `model-b`). */
export async function startArms(
  splits: Pick<SwitchyardConfigInput, 'rollouts' | 'experiments'>,
  mocks: [MockUpstreamOptions, MockUpstreamOptions] = [{}, {}],
): Promise<Arms> {
  const [a, b] = await Promise.all(mocks.map((m) => startMockUpstream(m)));
  if (!a || !b) throw new Error('mocks did not start');
  const clock = new SimulatedClock();
  const runtime = createRuntime(
    {
      providers: [
        { id: 'p0', baseURL: a.url, models: { 'chat-v1': 'model-a' }, timeoutMs: 5000 },
        { id: 'p1', baseURL: b.url, models: { 'chat-v2': 'model-b' }, timeoutMs: 5000 },
      ],
      // No request waits for a probe: a wait would move the simulated clock under the rollout's hold.
      routing: { deadlineMs: 10_000, maxWaitForRecoveryMs: 0 },
      health: { probeIdleMs: 60_000 },
      ...splits,
    },
    { clock, random: seeded(7) },
  );
  return {
    mocks: [a, b],
    runtime,
    clock,
    close: async () => {
      await runtime.stop();
      await Promise.all([a.close(), b.close()]);
    },
  };
}

/** A small deterministic random source (mulberry32). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exactly one request in `every` gets the fault (the first of each run), for a mock's `random`. */
export function oneIn(every: number): () => number {
  let n = 0;
  return () => (n++ % every === 0 ? 0 : 0.999);
}

export const ask = (content: string) => ({ model: 'chat', messages: [{ role: 'user' as const, content }] });

/** Runs `fn` over `items`, `width` at a time. */
export async function inBatches<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}
