// The deployment's measured stream is an iterator written by hand (not an async generator): it must start, end
// and report exactly as the generator did — admission at the first next(), nothing for a stream never read,
// one report per stream, and a refusal raised from next() rather than when the stream is created.

import { afterEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createProvider } from '../../src/provider/actor.ts';
import { failure } from '../helpers/failure.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup() {
  const mock = await startMockUpstream();
  cleanup.push(() => mock.close());
  const provider = createProvider({ id: 'mock1', baseURL: mock.url, model: 'mock-model', timeoutMs: 10_000 });
  cleanup.push(() => provider.stop());
  return { mock, provider };
}

const ask = { messages: [{ role: 'user' as const, content: 'How do circuit breakers work?' }] };

describe('the measured stream of a deployment', () => {
  it('admits nothing and sends nothing for a stream created and closed without being read', async () => {
    const { mock, provider } = await setup();
    const stream = provider.stream(ask);
    await stream.return?.();
    expect(mock.stats().requests).toBe(0);
    expect(provider.view().metrics).toMatchObject({ requests: 0, inFlight: 0 });
  });

  it('reports a stream read to its end once, as a success, and stays over after it', async () => {
    const { provider } = await setup();
    const stream = provider.stream(ask);
    let next = await stream.next();
    while (!next.done) next = await stream.next();
    expect(next.value.finishReason).toBe('stop');
    expect((await stream.next()).done).toBe(true);
    await stream.return?.();
    expect(provider.view().metrics).toMatchObject({ requests: 1, successes: 1, failures: 0, inFlight: 0 });
  });

  it('refuses from the first next(), not when created, while the deployment is disabled', async () => {
    const { provider } = await setup();
    provider.actor.send({ type: 'operator.disable', at: Date.now() });
    const stream = provider.stream(ask); // creating it throws nothing
    const err = await failure(stream.next());
    expect(err.code).toBe('provider_circuit_open');
    expect(provider.view().metrics.inFlight).toBe(0);
  });
});
