// Starts mock upstreams on 127.0.0.1 and a runtime over them; everything is closed by close().

import { SimulatedClock } from 'xstate';
import type { ConversationsConfig, RoutingConfig, SwitchyardConfigInput } from '../../src/config.ts';
import { type MockUpstream, type MockUpstreamOptions, startMockUpstream } from '../../src/mock/server.ts';
import type { ProviderHealthInput } from '../../src/provider/options.ts';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime.ts';

export interface FleetOptions {
  mocks: MockUpstreamOptions[];
  /** Per-provider config, by index. */
  providers?: Partial<SwitchyardConfigInput['providers'][number]>[];
  conversations?: Partial<ConversationsConfig>;
  routing?: Partial<RoutingConfig>;
  health?: ProviderHealthInput;
  /** Drive provider actors with a SimulatedClock; sleeps advance it instead of waiting. */
  simulated?: boolean;
  runtime?: RuntimeOptions;
}

export interface Fleet {
  mocks: MockUpstream[];
  runtime: Runtime;
  clock: SimulatedClock | undefined;
  /** Deployment id of mock i (`p<i>/mock-model`). */
  id(i: number): string;
  health(i: number): string | undefined;
  close(): Promise<void>;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const mocks = await Promise.all(options.mocks.map((m) => startMockUpstream(m)));
  const clock = options.simulated ? new SimulatedClock() : undefined;
  const runtime = createRuntime(
    {
      providers: mocks.map((m, i) => ({
        id: `p${i}`,
        baseURL: m.url,
        models: { chat: 'mock-model' },
        timeoutMs: 5000,
        ...options.providers?.[i],
      })),
      routing: { deadlineMs: 10_000, ...options.routing },
      health: { probeIdleMs: 60_000, ...options.health },
      ...(options.conversations ? { conversations: options.conversations } : {}),
    },
    {
      ...(clock
        ? {
            clock,
            sleep: async (ms: number) => {
              clock.increment(ms);
            },
          }
        : {}),
      ...options.runtime,
    },
  );
  const id = (i: number) => `p${i}/mock-model`;
  return {
    mocks,
    runtime,
    clock,
    id,
    health: (i) => runtime.providers().find((p) => p.id === id(i))?.health,
    close: async () => {
      await runtime.stop();
      await Promise.all(mocks.map((m) => m.close()));
    },
  };
}

export const ask = (content = 'How do gateways fail over?') => ({ model: 'chat', messages: [{ role: 'user' as const, content }] });

/** Collects a stream into its text and end event. */
export async function collect(stream: AsyncIterable<import('../../src/routing/supervisor.ts').ChatStreamEvent>) {
  let text = '';
  let end: Extract<import('../../src/routing/supervisor.ts').ChatStreamEvent, { type: 'end' }> | undefined;
  for await (const event of stream) {
    if (event.type === 'delta') text += event.content;
    else end = event;
  }
  return { text, end };
}

/** Registers an afterEach that closes the fleet a test started; returns the starter. */
export function useFleet(afterEach: (fn: () => Promise<void>) => void): (options: FleetOptions) => Promise<Fleet> {
  let current: Fleet | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return async (options) => {
    current = await startFleet(options);
    return current;
  };
}
