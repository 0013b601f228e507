// The router's wait-for-probe loop on a SimulatedClock: real provider actors whose circuits the test trips, and
// a waitForChange that moves the clock instead of sleeping.

import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { resolveConfig } from '../../src/config.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { providerLogic } from '../../src/provider/actor.ts';
import { createDeployment, type Deployment } from '../../src/provider/deployment.ts';
import { createLocalRateLimiter } from '../../src/routing/budgets.ts';
import { createRouter, type Route } from '../../src/routing/router.ts';
import type { OpenAIAdapter } from '../../src/upstream/adapter.ts';
import { failure } from '../helpers/failure.ts';

// Never reached: the router only reads the actors' snapshots.
const unused: OpenAIAdapter = {
  complete: async () => {
    throw new SwitchyardError('internal_error', 'not called in these tests');
  },
  stream: () => {
    throw new SwitchyardError('internal_error', 'not called in these tests');
  },
};

const health = { minVolume: 1, probeIdleMs: 60_000, backoff: { initialMs: 1000, jitter: 'none' as const } };

interface Setup {
  ids: string[];
  moveClock: boolean;
  /** The wait budget; large by default so the deadline is what these tests meet. */
  maxWaitForRecoveryMs?: number;
  maxWaitingRequests?: number;
  /** Replaces the clock-moving wait (a wait the test releases). */
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function setup(options: Setup) {
  const clock = new SimulatedClock();
  const now = () => clock.now();
  const config = resolveConfig({
    providers: options.ids.map((id) => ({ id, baseURL: 'http://127.0.0.1:9', models: { chat: 'm' }, health })),
  });
  const deployments: Deployment[] = [];
  const routes: Route[] = config.providers.map((provider, priority) => {
    const deployment = createDeployment({ id: provider.id, baseURL: provider.baseURL, model: 'm', health }, { now, adapter: unused });
    const actor = createActor(
      providerLogic(() => deployment),
      { input: deployment.input, clock },
    );
    deployment.attach(actor);
    actor.start();
    deployments.push(deployment);
    return { deployment, provider, priority, continuation: provider.continuation };
  });
  const waits: number[] = [];
  const router = createRouter({
    routes: new Map([['chat', routes]]),
    strategy: 'priority',
    limiter: createLocalRateLimiter({}, now),
    now,
    random: () => 0,
    maxWaitForRecoveryMs: options.maxWaitForRecoveryMs ?? 60_000,
    maxWaitingRequests: options.maxWaitingRequests ?? 64,
    waitForChange: async (_watched, ms, signal) => {
      waits.push(ms);
      if (options.wait) return options.wait(ms, signal);
      if (options.moveClock) clock.increment(ms);
    },
  });
  const request = (deadlineMs: number) => ({
    model: 'chat',
    tried: new Set<string>(),
    deadlineAt: clock.now() + deadlineMs,
    signal: new AbortController().signal,
    tokens: 10,
  });
  const trip = (i: number) => deployments[i]?.actor.send({ type: 'circuit.tripped', at: clock.now() });
  return { clock, router, waits, request, trip, deployments };
}

describe('router: when every deployment is recovering', () => {
  it('waits, on the clock, exactly until the earliest probe inside the deadline, then sends the request as that probe', async () => {
    const r = setup({ ids: ['a', 'b'], moveClock: true });
    r.trip(0);
    r.clock.increment(300);
    r.trip(1); // b probes at 1300, a at 1000
    const route = await r.router.pick(r.request(5000));
    expect(route.deployment.id).toBe('a');
    expect(r.waits).toEqual([700]);
    expect(r.clock.now()).toBe(1000);
    expect(route.deployment.admission()).toBe('probe');
  });

  it('fails fast, without waiting, when the earliest probe falls after the deadline, saying when it comes', async () => {
    const r = setup({ ids: ['a'], moveClock: true });
    r.trip(0);
    const err = await failure(r.router.pick(r.request(500)));
    expect(err).toMatchObject({ code: 'no_provider_available', status: 503, retryAfterMs: 1000 });
    expect(r.waits).toEqual([]);
  });

  it('gives up with no_provider_available once the deadline is reached while waiting', async () => {
    const r = setup({ ids: ['a'], moveClock: true });
    // Enabled by an operator: probing, with its one probe slot taken by a probe in flight.
    r.deployments[0]?.disable();
    r.deployments[0]?.enable();
    r.deployments[0]?.actor.send({ type: 'probe.started', at: r.clock.now() });
    const err = await failure(r.router.pick(r.request(2000)));
    expect(err).toMatchObject({ code: 'no_provider_available' });
    // One wait for the whole deadline (a probe in flight may settle any time), then the deadline has passed.
    expect(r.waits).toEqual([2000]);
  });

  it('bounds its loop: when nothing ever changes it stops after a fixed number of waits', async () => {
    const r = setup({ ids: ['a'], moveClock: false });
    r.trip(0);
    const err = await failure(r.router.pick(r.request(5000)));
    expect(err).toMatchObject({ code: 'no_provider_available', message: expect.stringMatching(/became available/), retryAfterMs: 1000 });
    expect(r.waits).toHaveLength(64);
  });

  it('picks at once, with no wait, while a deployment admits calls', async () => {
    const r = setup({ ids: ['a', 'b'], moveClock: true });
    r.trip(0);
    expect((await r.router.pick(r.request(5000))).deployment.id).toBe('b');
    expect(r.waits).toEqual([]);
  });
});

describe('router: a total outage fails fast', () => {
  it('never waits past maxWaitForRecoveryMs: a probe further off answers at once with Retry-After at that probe', async () => {
    const r = setup({ ids: ['a', 'b'], moveClock: true, maxWaitForRecoveryMs: 999 });
    r.trip(0);
    r.trip(1); // both probe at 1000: one ms past the wait budget, well inside the deadline
    const err = await failure(r.router.pick(r.request(60_000)));
    expect(err).toMatchObject({ code: 'no_provider_available', status: 503, retryAfterMs: 1000 });
    expect(r.waits).toEqual([]);
    expect(r.clock.now()).toBe(0);
  });

  it('waits for a probe inside maxWaitForRecoveryMs and sends the request as that probe', async () => {
    const r = setup({ ids: ['a'], moveClock: true, maxWaitForRecoveryMs: 1000 });
    r.trip(0);
    const route = await r.router.pick(r.request(60_000));
    expect(route.deployment.id).toBe('a');
    expect(r.waits).toEqual([1000]);
    expect(route.deployment.admission()).toBe('probe');
  });

  it('bounds a probe in flight by the wait budget rather than the deadline, and the budget spans the picks of one request', async () => {
    const r = setup({ ids: ['a'], moveClock: true, maxWaitForRecoveryMs: 1000 });
    r.deployments[0]?.disable();
    r.deployments[0]?.enable();
    r.deployments[0]?.actor.send({ type: 'probe.started', at: r.clock.now() });
    const request = r.request(60_000);
    r.clock.increment(300); // the wait budget starts at the first wait, not at the request's start
    const first = await failure(r.router.pick(request));
    // No scheduled probe: the wait budget is the hint.
    expect(first).toMatchObject({ code: 'no_provider_available', retryAfterMs: 1000 });
    expect(r.waits).toEqual([1000]);
    const again = await failure(r.router.pick(request));
    expect(again).toMatchObject({ code: 'no_provider_available' });
    expect(r.waits).toEqual([1000]);
    // Another request has a budget of its own.
    await failure(r.router.pick(r.request(60_000)));
    expect(r.waits).toEqual([1000, 1000]);
  });

  it('with maxWaitForRecoveryMs 0 never waits', async () => {
    const r = setup({ ids: ['a'], moveClock: true, maxWaitForRecoveryMs: 0 });
    r.trip(0);
    expect(await failure(r.router.pick(r.request(60_000)))).toMatchObject({ code: 'no_provider_available', retryAfterMs: 1000 });
    expect(r.waits).toEqual([]);
  });

  it('lets at most maxWaitingRequests wait at once per model; the next answers at once with Retry-After at the next probe', async () => {
    const held: (() => void)[] = [];
    const r = setup({
      ids: ['a', 'b'],
      moveClock: false,
      maxWaitForRecoveryMs: 1000,
      maxWaitingRequests: 2,
      wait: () => new Promise<void>((resolve) => held.push(resolve)),
    });
    r.trip(0);
    r.clock.increment(200);
    r.trip(1); // a probes at 1000, b at 1200
    r.clock.increment(100);
    const waiting = [r.router.pick(r.request(60_000)), r.router.pick(r.request(60_000))];
    expect(r.router.waiting('chat')).toBe(2);
    const third = await failure(r.router.pick(r.request(60_000)));
    expect(third).toMatchObject({ code: 'no_provider_available', status: 503, retryAfterMs: 700 });
    expect(third.message).toMatch(/2 requests already wait/);
    expect(r.waits).toEqual([700, 700]);
    // a's probe is due: both waiters wake and pick it (the call that goes first takes its one probe slot).
    r.clock.increment(700);
    for (const release of held.splice(0)) release();
    expect((await Promise.all(waiting)).map((route) => route.deployment.id)).toEqual(['a', 'a']);
    expect(r.router.waiting('chat')).toBe(0);
  });
});
