// A request's deadline and hedge on the injected clock: real mock upstreams, and a SimulatedClock that only the
// test moves, so "the deadline passed" and "the first token is late" are steps, not waits.

import { afterEach, describe, expect, it } from 'vitest';
import { failure } from '../helpers/failure.ts';
import { ask, collect, useFleet } from '../helpers/fleet.ts';
import { waitUntil } from '../helpers/wait.ts';

const start = useFleet(afterEach);
const hang = { faults: { mode: 'hang' as const } };
// Longer than any test runs: only the simulated clock can make these delays pass.
const long = 600_000;
const patient = [{ timeoutMs: long }, { timeoutMs: long }];

describe('request: the deadline, on the injected clock', () => {
  it('aborts the attempt in flight when the deadline passes, and fails with deadline_exceeded and its attempts', async () => {
    const f = await start({ mocks: [hang], simulated: true, providers: patient, routing: { deadlineMs: long } });
    const mock = f.mocks[0];
    let settled = false;
    const pending = failure(f.runtime.chat(ask())).finally(() => {
      settled = true;
    });
    await waitUntil(() => mock?.stats().inFlight === 1);
    f.clock?.increment(long - 1);
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    f.clock?.increment(1);
    const err = await pending;
    expect(err).toMatchObject({ code: 'deadline_exceeded', status: 504, retryable: false });
    // The attempt the deadline cut is the deployment's timeout (test/routing/deadline-health.test.ts: enough of
    // them take it out of service); one alone does not.
    expect(err.attempts?.map((a) => [a.deployment, a.outcome])).toEqual([[f.id(0), 'provider_timeout']]);
    expect(err.route).toMatchObject({ model: 'chat', deployments: [] });
    await waitUntil(() => mock?.stats().inFlight === 0);
    expect(f.health(0)).toBe('healthy');
  });

  it('fails a stream that has not produced its first token by the deadline, before anything was sent', async () => {
    const f = await start({ mocks: [hang], simulated: true, providers: patient, routing: { deadlineMs: long } });
    const pending = failure(collect(f.runtime.stream(ask())));
    await waitUntil(() => f.mocks[0]?.stats().inFlight === 1);
    f.clock?.increment(long);
    expect(await pending).toMatchObject({
      code: 'deadline_exceeded',
      attempts: [expect.objectContaining({ outcome: 'provider_timeout' })],
    });
  });

  it("ends with aborted, not deadline_exceeded, when the caller's own signal ends the request", async () => {
    const f = await start({ mocks: [hang], simulated: true, providers: patient, routing: { deadlineMs: long } });
    const caller = new AbortController();
    const pending = failure(f.runtime.chat(ask(), { signal: caller.signal }));
    await waitUntil(() => f.mocks[0]?.stats().inFlight === 1);
    caller.abort();
    f.clock?.increment(long);
    expect(await pending).toMatchObject({ code: 'aborted', status: 499, attempts: [expect.objectContaining({ outcome: 'aborted' })] });
  });
});

describe('request: hedging, on the injected clock', () => {
  it('hedges a call whose answer is late once the hedge delay passes on the clock, and aborts the slower upstream', async () => {
    const f = await start({
      mocks: [hang, {}],
      simulated: true,
      providers: patient,
      routing: { hedgeAfterMs: long, deadlineMs: 2 * long },
    });
    const pending = f.runtime.chat(ask());
    await waitUntil(() => f.mocks[0]?.stats().inFlight === 1);
    f.clock?.increment(long - 1);
    await new Promise((r) => setImmediate(r));
    expect(f.mocks[1]?.stats().requests).toBe(0);
    f.clock?.increment(1);
    const { route } = await pending;
    expect(route.deployments).toEqual([f.id(1)]);
    expect(route.attempts.map((a) => [a.deployment, a.outcome, a.hedge ?? false])).toEqual([
      [f.id(0), 'aborted', false],
      [f.id(1), 'ok', true],
    ]);
    await waitUntil(() => f.mocks[0]?.stats().inFlight === 0);
  });

  it('hedges a stream whose first token is late, and streams from the hedge', async () => {
    const f = await start({
      mocks: [hang, {}],
      simulated: true,
      providers: patient,
      routing: { hedgeAfterMs: long, deadlineMs: 2 * long },
    });
    const pending = collect(f.runtime.stream(ask()));
    await waitUntil(() => f.mocks[0]?.stats().inFlight === 1);
    f.clock?.increment(long);
    const { text, end } = await pending;
    expect(text.length).toBeGreaterThan(0);
    expect(end?.route.deployments).toEqual([f.id(1)]);
    expect(end?.route.attempts.find((a) => a.deployment === f.id(1))).toMatchObject({ outcome: 'ok', hedge: true });
  });
});
