// race() on a SimulatedClock: the hedge timer moves only when the test moves the clock; attempts are promises
// the test settles by hand.

import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { SwitchyardError } from '../../src/errors.ts';
import { type Raced, type Running, race } from '../../src/routing/race.ts';

interface Scripted extends Running<string> {
  succeed(value: string): void;
  fail(error: unknown): void;
  aborted: boolean;
}

const route = (id: string): Raced => ({ deployment: { id } });
/** Lets promise callbacks run (no time passes: the clock is simulated). */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));
const retryable = (id: string) => new SwitchyardError('provider_unavailable', `${id}: 503`, { provider: id });
const final = (id: string) => new SwitchyardError('provider_bad_request', `${id}: 400`, { provider: id });

function setup(options: { hedgeAfterMs: number | null; hedges?: string[] }) {
  const clock = new SimulatedClock();
  const started: Scripted[] = [];
  const lost: [string, string][] = [];
  const hedges = [...(options.hedges ?? [])];
  let hedgeAsks = 0;
  const start = (r: Raced): Scripted => {
    let succeed: (value: string) => void = () => {};
    let fail: (error: unknown) => void = () => {};
    const ready = new Promise<string>((resolve, reject) => {
      succeed = resolve;
      fail = reject;
    });
    const running: Scripted = {
      route: r,
      ready,
      succeed,
      fail,
      aborted: false,
      abort: () => {
        running.aborted = true;
      },
    };
    started.push(running);
    return running;
  };
  const round = race({
    first: route('a'),
    start,
    timers: clock,
    hedgeAfterMs: options.hedgeAfterMs,
    nextHedge: async () => {
      hedgeAsks++;
      const id = hedges.shift();
      return id === undefined ? null : route(id);
    },
    lost: (running, error) => lost.push([running.route.deployment.id, error.code]),
  });
  round.catch(() => {});
  return { clock, started, lost, round, hedgeAsks: () => hedgeAsks };
}

const attempt = (started: Scripted[], i: number): Scripted => {
  const running = started[i];
  if (!running) throw new Error(`attempt ${i} was not started`);
  return running;
};

describe('race: one round of attempts', () => {
  it('wins with the first attempt when it answers before the hedge delay, and never asks for a hedge', async () => {
    const r = setup({ hedgeAfterMs: 100, hedges: ['b'] });
    r.clock.increment(99);
    await settled();
    attempt(r.started, 0).succeed('from a');
    expect((await r.round).value).toBe('from a');
    r.clock.increment(1000);
    await settled();
    expect(r.hedgeAsks()).toBe(0);
    expect(r.started).toHaveLength(1);
  });

  it('starts a hedge once the delay passes; the hedge wins and the first attempt is aborted as lost', async () => {
    const r = setup({ hedgeAfterMs: 100, hedges: ['b'] });
    r.clock.increment(100);
    await settled();
    expect(r.started.map((s) => s.route.deployment.id)).toEqual(['a', 'b']);
    attempt(r.started, 1).succeed('from b');
    const { winner, value } = await r.round;
    expect([winner.route.deployment.id, value]).toEqual(['b', 'from b']);
    expect(attempt(r.started, 0).aborted).toBe(true);
    expect(r.lost).toEqual([['a', 'aborted']]);
  });

  it('lets the first attempt win over a slower hedge, which is aborted as lost', async () => {
    const r = setup({ hedgeAfterMs: 100, hedges: ['b'] });
    r.clock.increment(100);
    await settled();
    attempt(r.started, 0).succeed('from a');
    expect((await r.round).winner.route.deployment.id).toBe('a');
    expect(attempt(r.started, 1).aborted).toBe(true);
    expect(r.lost).toEqual([['b', 'aborted']]);
    // A late answer of the loser changes nothing.
    attempt(r.started, 1).succeed('late');
    await settled();
    expect(r.lost).toEqual([['b', 'aborted']]);
  });

  it('ends the round at once on a final error, aborting the other attempt with that error', async () => {
    const r = setup({ hedgeAfterMs: 100, hedges: ['b'] });
    r.clock.increment(100);
    await settled();
    attempt(r.started, 1).fail(final('b'));
    await expect(r.round).rejects.toMatchObject({ code: 'provider_bad_request' });
    expect(attempt(r.started, 0).aborted).toBe(true);
    expect(r.lost).toEqual([
      ['b', 'provider_bad_request'],
      ['a', 'provider_bad_request'],
    ]);
  });

  it('keeps the round open after a retryable failure while a hedge is live, and rejects with the last error when all fail', async () => {
    const r = setup({ hedgeAfterMs: 100, hedges: ['b'] });
    r.clock.increment(100);
    await settled();
    attempt(r.started, 0).fail(retryable('a'));
    await settled();
    let done = false;
    const finish = () => {
      done = true;
    };
    r.round.then(finish, finish);
    await settled();
    expect(done).toBe(false);
    attempt(r.started, 1).fail(retryable('b'));
    await expect(r.round).rejects.toMatchObject({ code: 'provider_unavailable', message: 'b: 503' });
    expect(r.lost).toEqual([
      ['a', 'provider_unavailable'],
      ['b', 'provider_unavailable'],
    ]);
  });

  it('rejects at once when the only attempt fails retryably before the hedge delay, without a hedge', async () => {
    const r = setup({ hedgeAfterMs: 100, hedges: ['b'] });
    attempt(r.started, 0).fail(retryable('a'));
    await expect(r.round).rejects.toMatchObject({ code: 'provider_unavailable' });
    r.clock.increment(100);
    await settled();
    expect(r.hedgeAsks()).toBe(0);
  });

  it('makes no hedge when hedging is off, however long the first attempt takes', async () => {
    const r = setup({ hedgeAfterMs: null, hedges: ['b'] });
    r.clock.increment(60_000);
    await settled();
    expect(r.hedgeAsks()).toBe(0);
    attempt(r.started, 0).succeed('slow');
    expect((await r.round).value).toBe('slow');
  });

  it('keeps waiting for the first attempt when no hedge route is left', async () => {
    const r = setup({ hedgeAfterMs: 100, hedges: [] });
    r.clock.increment(100);
    await settled();
    expect(r.hedgeAsks()).toBe(1);
    expect(r.started).toHaveLength(1);
    attempt(r.started, 0).succeed('from a');
    expect((await r.round).value).toBe('from a');
  });

  it('turns anything but a SwitchyardError into a final internal_error', async () => {
    const r = setup({ hedgeAfterMs: null });
    attempt(r.started, 0).fail(new Error('bug'));
    await expect(r.round).rejects.toMatchObject({ code: 'internal_error', retryable: false, status: 500 });
  });
});
