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

function setup(options: { ids: string[]; moveClock: boolean }) {
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
    waitForChange: async (_watched, ms) => {
      waits.push(ms);
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
    expect(err).toMatchObject({ code: 'no_provider_available', message: expect.stringMatching(/became available/) });
    expect(r.waits).toHaveLength(64);
  });

  it('picks at once, with no wait, while a deployment admits calls', async () => {
    const r = setup({ ids: ['a', 'b'], moveClock: true });
    r.trip(0);
    expect((await r.router.pick(r.request(5000))).deployment.id).toBe('b');
    expect(r.waits).toEqual([]);
  });
});
