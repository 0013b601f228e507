// Rollouts and experiments through live reloads, on the mock with two upstream models and a simulated clock:
// a reload adds, keeps, restarts or removes each one by diff. An unchanged rollout keeps its step, its hold
// timer, its figures and its state; a changed one starts afresh from its first step; a removed one stops and
// its model is routed as the new config says. Requests in flight across a step change and a reload all answer.

import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import type { InspectionRecord } from '../../src/inspection/events.ts';
import { waitUntil } from '../helpers/wait.ts';
import { type Arms, ask, inBatches, startArms } from './harness.ts';

let arms: Arms | undefined;
afterEach(async () => {
  await arms?.close();
  arms = undefined;
});

const rollout = {
  id: 'v2',
  model: 'chat',
  from: 'chat-v1',
  to: 'chat-v2',
  steps: [10, 50, 100],
  holdMs: 60_000,
  sticky: 'conversation',
  guard: { minRequests: 5, maxErrorRateIncrease: 0.02 },
};

/** The running config with other splits: what a reload sends (whole, like PUT /admin/config). */
const withSplits = (a: Arms, splits: Pick<SwitchyardConfigInput, 'rollouts' | 'experiments'>): SwitchyardConfigInput => ({
  ...a.runtime.config(),
  ...splits,
});

/** `n` requests on `chat`, one per conversation `c-<i>`, `width` at a time. */
const send = (a: Arms, n: number, from = 0, width = 25) =>
  inBatches(
    Array.from({ length: n }, (_, i) => `c-${from + i}`),
    width,
    async (id) => (await a.runtime.chat(ask(`hi ${id}`), { subject: { conversation: id } })).route.variant,
  );

const inFlight = (a: Arms) => a.mocks[0].stats().inFlight + a.mocks[1].stats().inFlight;

describe('rollouts through reloads', () => {
  it('starts a rollout a reload adds, then ramps it 10 → 50 → 100 and promotes it', async () => {
    arms = await startArms({});
    const a = arms;
    expect(a.runtime.rollouts()).toEqual([]);
    const result = await a.runtime.reload(withSplits(a, { rollouts: [rollout] }));
    expect(result.rollouts).toEqual({ added: ['v2'], changed: [], removed: [], unchanged: [] });
    expect(result.restartRequired).toEqual([]);
    const percents: number[] = [];
    for (let step = 0; step < 3; step++) {
      percents.push(a.runtime.rollout('v2').percent);
      await send(a, 120);
      a.clock.increment(60_000);
    }
    expect(percents).toEqual([10, 50, 100]);
    expect(a.runtime.rollout('v2')).toMatchObject({ state: 'promoted', percent: 100, reason: null });
    expect(a.runtime.models()).toContain('chat');
  });

  it('leaves an unchanged rollout untouched: its step, its hold timer, its figures', async () => {
    arms = await startArms({ rollouts: [rollout] });
    const a = arms;
    await send(a, 120);
    a.clock.increment(60_000);
    await send(a, 40, 200);
    const before = a.runtime.rollout('v2');
    expect(before.state).toBe('ramping.step2.holding');
    a.clock.increment(30_000);
    // The same rollout written in another key order, with its defaults left out, and another routing setting.
    const { id, model, from, to, steps, holdMs, sticky, guard } = rollout;
    const config = withSplits(a, { rollouts: [{ guard, sticky, holdMs, steps, to, from, model, id }] });
    const result = await a.runtime.reload({ ...config, routing: { ...config.routing, deadlineMs: 9000 } });
    expect(result.rollouts).toEqual({ added: [], changed: [], removed: [], unchanged: ['v2'] });
    const after = a.runtime.rollout('v2');
    expect(after).toEqual(before);
    // Its hold ran on: half of it before the reload, half after.
    a.clock.increment(30_000);
    expect(a.runtime.rollout('v2').state).toBe('ramping.step3.holding');
    expect(a.runtime.rollout('v2').arms.canary.requests).toBe(before.arms.canary.requests);
  });

  it('keeps a paused, a promoted and a rolled-back rollout in its state through a reload that leaves it as it was', async () => {
    const others = [
      { ...rollout, id: 'paused', model: 'chat-p' },
      { ...rollout, id: 'promoted', model: 'chat-q' },
      { ...rollout, id: 'aborted', model: 'chat-r' },
    ];
    arms = await startArms({ rollouts: others });
    const a = arms;
    a.runtime.rolloutCommand('paused', 'pause');
    a.runtime.rolloutCommand('promoted', 'promote');
    a.runtime.rolloutCommand('aborted', 'abort');
    const before = a.runtime.rollouts();
    await a.runtime.reload(withSplits(a, { rollouts: others }));
    expect(a.runtime.rollouts()).toEqual(before);
    expect(a.runtime.rollouts().map((r) => [r.state, r.percent])).toEqual([
      ['paused', 10],
      ['promoted', 100],
      ['rolledBack', 0],
    ]);
  });

  it('starts a changed rollout afresh from its first step, with no figures', async () => {
    arms = await startArms({ rollouts: [rollout] });
    const a = arms;
    await send(a, 120);
    a.clock.increment(60_000);
    expect(a.runtime.rollout('v2').step).toBe(2);
    const result = await a.runtime.reload(withSplits(a, { rollouts: [{ ...rollout, holdMs: 30_000 }] }));
    expect(result.rollouts.changed).toEqual(['v2']);
    const view = a.runtime.rollout('v2');
    expect(view).toMatchObject({ state: 'ramping.step1.holding', step: 1, percent: 10, holdMs: 30_000 });
    expect([view.arms.baseline.requests, view.arms.canary.requests]).toEqual([0, 0]);
    // Its new hold applies.
    await send(a, 120);
    a.clock.increment(30_000);
    expect(a.runtime.rollout('v2').step).toBe(2);
  });

  it('stops a rollout a reload removes; its model is then routed as the new config says', async () => {
    arms = await startArms({ rollouts: [rollout] });
    const a = arms;
    const records: InspectionRecord[] = [];
    const unsubscribe = a.runtime.subscribe((r) => records.push(r));
    await send(a, 50);
    const base = a.runtime.config();
    const p0 = base.providers[0];
    if (!p0) throw new Error('no p0');
    // `chat` now a plain logical model, served by the baseline's deployment.
    const providers = [{ ...p0, models: { ...p0.models, chat: { model: 'model-a' } } }, ...base.providers.slice(1)];
    const result = await a.runtime.reload({ ...base, providers, rollouts: [] });
    unsubscribe();
    expect(result.rollouts).toEqual({ added: [], changed: [], removed: ['v2'], unchanged: [] });
    expect(() => a.runtime.rollout('v2')).toThrow(expect.objectContaining({ code: 'rollout_not_found' }));
    expect(a.runtime.rollouts()).toEqual([]);
    const { completion, route } = await a.runtime.chat(ask('after'), { subject: { conversation: 'c-1' } });
    expect([completion.model, route.variant]).toEqual(['model-a', undefined]);
    expect(records).toContainEqual(expect.objectContaining({ actor: 'rollout:v2', machine: 'rollout', state: 'stopped' }));
    expect(records).toContainEqual(
      expect.objectContaining({ actor: 'config:rollout:v2', machine: 'config', event: 'rollout.stopped', state: 'stopped' }),
    );
  });

  it('answers every request in flight across a step change and a reload; those on a replaced rollout count on neither', async () => {
    arms = await startArms({ rollouts: [rollout] }, [{ latencyMs: 300 }, { latencyMs: 300 }]);
    const a = arms;
    await send(a, 120);
    // The simulated clock also runs the requests' deadlines: the hold is brought to its last millisecond first.
    a.clock.increment(59_999);
    // In flight while the hold runs out (the step changes) and while an unchanged reload arrives.
    const first = send(a, 60, 1000, 60);
    await waitUntil(() => inFlight(a) === 60, 5000);
    a.clock.increment(1);
    expect(a.runtime.rollout('v2').state).toBe('ramping.step2.holding');
    await a.runtime.reload(withSplits(a, { rollouts: [rollout] }));
    expect((await first).length).toBe(60);
    const kept = a.runtime.rollout('v2');
    expect(kept.step).toBe(2);
    // They ended in step 2: its window counts them.
    expect(kept.window.baseline.requests + kept.window.canary.requests).toBe(60);
    expect(kept.arms.baseline.requests + kept.arms.canary.requests).toBe(180);
    // In flight while a reload replaces the rollout: all answer; the new rollout saw none of them.
    const second = send(a, 60, 2000, 60);
    await waitUntil(() => inFlight(a) === 60, 5000);
    await a.runtime.reload(withSplits(a, { rollouts: [{ ...rollout, steps: [25, 100] }] }));
    expect((await second).length).toBe(60);
    const fresh = a.runtime.rollout('v2');
    expect(fresh).toMatchObject({ step: 1, percent: 25 });
    expect(fresh.arms.baseline.requests + fresh.arms.canary.requests).toBe(0);
  });
});

describe('experiments through reloads', () => {
  const experiment = {
    id: 'tone',
    model: 'chat-ab',
    sticky: 'conversation',
    variants: [
      { name: 'plain', model: 'chat-v1', weight: 1 },
      { name: 'brief', model: 'chat-v2', weight: 1, params: { temperature: 0.2 } },
    ],
  };
  const ab = (a: Arms, n: number) =>
    inBatches(
      Array.from({ length: n }, (_, i) => `e-${i}`),
      25,
      (id) => a.runtime.chat({ ...ask(id), model: 'chat-ab' }, { subject: { conversation: id } }),
    );
  const requests = (a: Arms) => Object.fromEntries(a.runtime.experiment('tone').variants.map((v) => [v.name, v.requests]));

  it('routes a variant that names deployments once a reload adds its experiment', async () => {
    arms = await startArms({});
    const a = arms;
    const byDeployment = { id: 'direct', model: 'chat-d', sticky: 'none', variants: [{ name: 'b', deployments: ['p1/model-b'] }] };
    await a.runtime.reload(withSplits(a, { experiments: [byDeployment] }));
    const { completion, route } = await a.runtime.chat({ ...ask('hi'), model: 'chat-d' });
    expect([completion.model, route.variant, route.deployments]).toEqual(['model-b', 'b', ['p1/model-b']]);
    // Its synthetic model is no client's to send or see.
    expect(a.runtime.models()).not.toContain('variant:direct/b');
    expect(a.runtime.experiment('direct').variants[0]?.requests).toBe(1);
  });

  it('starts one a reload adds, keeps an unchanged one figures, keeps a changed one the figures of its unchanged variants, stops a removed one', async () => {
    arms = await startArms({});
    const a = arms;
    expect((await a.runtime.reload(withSplits(a, { experiments: [experiment] }))).experiments.added).toEqual(['tone']);
    await ab(a, 40);
    const counted = requests(a);
    expect((counted.plain ?? 0) + (counted.brief ?? 0)).toBe(40);

    expect((await a.runtime.reload(withSplits(a, { experiments: [experiment] }))).experiments.unchanged).toEqual(['tone']);
    expect(requests(a)).toEqual(counted);

    // New weights and new parameters for `brief`: `plain` is the same arm and keeps its figures.
    const changed = {
      ...experiment,
      variants: [
        { name: 'plain', model: 'chat-v1', weight: 3 },
        { name: 'brief', model: 'chat-v2', weight: 1, params: { temperature: 0.9 } },
      ],
    };
    expect((await a.runtime.reload(withSplits(a, { experiments: [changed] }))).experiments.changed).toEqual(['tone']);
    expect(requests(a)).toEqual({ plain: counted.plain, brief: 0 });
    expect(a.runtime.experiment('tone').variants.map((v) => v.weight)).toEqual([3, 1]);

    expect((await a.runtime.reload(withSplits(a, { experiments: [] }))).experiments.removed).toEqual(['tone']);
    expect(() => a.runtime.experiment('tone')).toThrow(expect.objectContaining({ code: 'experiment_not_found' }));
    await expect(a.runtime.chat({ ...ask('x'), model: 'chat-ab' })).rejects.toMatchObject({ code: 'model_not_found' });
  });
});
