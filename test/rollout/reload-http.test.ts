// A rollout started by PUT /admin/config on a running gateway (real server, the mock upstreams, the openai SDK,
// a simulated clock for the holds): it ramps 10 → 50 → 100 and is promoted; the PUT answer, /metrics and the
// inspector's records say what the reload started and stopped. A bad rollout or experiment in a reload (unknown
// model or deployment, a huge id, a duplicate id) answers 400 naming the field and changes nothing.

import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { startServer } from '../../src/server/index.ts';
import { type Arms, inBatches, startArms } from './harness.ts';

const admin = 'admin-key-0123456789';
const user = 'user-key-0123456789';

let arms: Arms | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  // The server's shutdown stops the runtime; then the mocks.
  for (const close of closers.splice(0).reverse()) await close();
  await Promise.all(arms?.mocks.map((m) => m.close()) ?? []);
  arms = undefined;
});

const rollout = {
  id: 'v2',
  model: 'chat',
  from: 'chat-v1',
  to: 'chat-v2',
  steps: [10, 50, 100],
  holdMs: 60_000,
  sticky: 'header:x-user-id',
  guard: { minRequests: 5 },
};

async function gateway(splits: Pick<SwitchyardConfigInput, 'rollouts' | 'experiments'> = {}) {
  arms = await startArms(splits);
  const a = arms;
  const server = await startServer(a.runtime, { port: 0, host: '127.0.0.1', apiKeys: [user], adminKeys: [admin] });
  closers.push(() => server.shutdown(100));
  const headers = { authorization: `Bearer ${admin}` };
  const put = (body: unknown) =>
    fetch(`${server.url}/admin/config`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const get = async (path: string) => (await fetch(`${server.url}${path}`, { headers })).json();
  const text = async (path: string) => (await fetch(`${server.url}${path}`, { headers })).text();
  /** The config in use as GET /admin/config shows it, with other splits. */
  const configWith = async (s: Pick<SwitchyardConfigInput, 'rollouts' | 'experiments'>) => ({
    ...((await get('/admin/config')) as SwitchyardConfigInput),
    ...s,
  });
  /** `n` users (`x-user-id: u-<i>`), one chat request each through the openai SDK; the variant each got. */
  const users = (n: number) =>
    inBatches(
      Array.from({ length: n }, (_, i) => `u-${i}`),
      20,
      async (id) => {
        const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: user, maxRetries: 0, defaultHeaders: { 'x-user-id': id } });
        const { response } = await client.chat.completions
          .create({ model: 'chat', messages: [{ role: 'user', content: `hi from ${id}` }] })
          .withResponse();
        return response.headers.get('x-switchyard-variant');
      },
    );
  return { a, put, get, text, configWith, users };
}

describe('a rollout started by PUT /admin/config', () => {
  it('ramps 10 → 50 → 100 and is promoted; the answer, the metrics and the inspector say it started', async () => {
    const g = await gateway();
    const records: { actor: string; event: string }[] = [];
    g.a.runtime.subscribe((r) => records.push(r));
    expect(await g.get('/v1/rollouts')).toEqual({ object: 'list', data: [] });
    const res = await g.put(await g.configWith({ rollouts: [rollout] }));
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { rollouts: unknown; experiments: unknown; restartRequired: string[] };
    expect(answer.rollouts).toEqual({ added: ['v2'], changed: [], removed: [], unchanged: [] });
    expect(answer.experiments).toEqual({ added: [], changed: [], removed: [], unchanged: [] });
    expect(answer.restartRequired).toEqual([]);
    expect(records).toContainEqual(expect.objectContaining({ actor: 'config:rollout:v2', event: 'rollout.started' }));

    const seen: { state: string; percent: number; canary: number }[] = [];
    for (let step = 0; step < 3; step++) {
      const { state, percent } = (await g.get('/v1/rollouts/v2')) as { state: string; percent: number };
      const variants = await g.users(100);
      seen.push({ state, percent, canary: variants.filter((v) => v === 'canary').length });
      g.a.clock.increment(60_000);
    }
    expect(seen.map((s) => [s.state, s.percent])).toEqual([
      ['ramping.step1.holding', 10],
      ['ramping.step2.holding', 50],
      ['ramping.step3.holding', 100],
    ]);
    expect(seen[0]?.canary).toBeGreaterThanOrEqual(5);
    expect(seen[2]?.canary).toBe(100);
    expect(await g.get('/v1/rollouts/v2')).toMatchObject({ state: 'promoted', percent: 100, reason: null });
    const metrics = await g.text('/metrics');
    expect(metrics).toContain('switchyard_rollout_state{rollout="v2",state="promoted"} 1');
    expect(metrics).toContain('switchyard_config_split_changes_total{kind="rollout",change="started"} 1');
    expect(metrics).toMatch(/switchyard_variant_requests_total\{experiment="v2",variant="canary",outcome="ok"\} [1-9]/);

    // Removed by the next PUT: stopped, and its series leave /metrics.
    const removed = (await (await g.put(await g.configWith({ rollouts: [] }))).json()) as { rollouts: { removed: string[] } };
    expect(removed.rollouts.removed).toEqual(['v2']);
    const after = await g.text('/metrics');
    expect(after).toContain('switchyard_config_split_changes_total{kind="rollout",change="stopped"} 1');
    expect(after).not.toContain('switchyard_rollout_state{rollout="v2"');
    expect(records).toContainEqual(expect.objectContaining({ actor: 'config:rollout:v2', event: 'rollout.stopped' }));
  });

  it('answers 400 naming the field for a bad rollout or experiment, and changes nothing', async () => {
    const experiment = { id: 'tone', model: 'chat-ab', variants: [{ name: 'plain', model: 'chat-v1' }] };
    const g = await gateway({ rollouts: [rollout], experiments: [experiment] });
    await g.users(40);
    g.a.runtime.rolloutCommand('v2', 'pause');
    const before = {
      rollouts: await g.get('/v1/rollouts'),
      experiments: await g.get('/v1/experiments'),
      config: await g.get('/admin/config'),
    };
    const version = g.a.runtime.configStatus().version;
    const other = { ...rollout, id: 'v3', model: 'chat-3' };
    const cases: [string, Pick<SwitchyardConfigInput, 'rollouts' | 'experiments'>, string][] = [
      ['an unknown canary model', { rollouts: [rollout, { ...other, to: 'nope' }] }, 'rollouts[1].to'],
      ['an unknown baseline model', { rollouts: [{ ...rollout, from: 'gpt-nothing' }] }, 'rollouts[0].from'],
      [
        'an unknown deployment',
        { experiments: [{ ...experiment, variants: [{ name: 'x', deployments: ['p9/model-z'] }] }] },
        'experiments[0].variants[0].deployments[0]',
      ],
      ['a huge id', { rollouts: [{ ...other, id: 'x'.repeat(100_000) }] }, 'rollouts[0].id'],
      ['an id with a path in it', { rollouts: [{ ...other, id: '../v2' }] }, 'rollouts[0].id'],
      ['a duplicate rollout id', { rollouts: [rollout, { ...other, id: 'v2' }] }, 'rollouts[1].id'],
      ['an experiment with the id of a rollout', { rollouts: [rollout], experiments: [{ ...experiment, id: 'v2' }] }, 'rollouts[0].id'],
      ['a model split twice', { rollouts: [rollout, { ...other, model: 'chat' }] }, 'rollouts[1].model'],
      ['too many rollouts', { rollouts: Array.from({ length: 65 }, (_, i) => ({ ...other, id: `r${i}`, model: `m${i}` })) }, 'rollouts'],
    ];
    for (const [what, splits, param] of cases) {
      const res = await g.put(await g.configWith({ rollouts: [rollout], experiments: [experiment], ...splits }));
      const body = (await res.json()) as { error: { code: string; param: string } };
      expect([what, res.status, body.error.code, body.error.param]).toEqual([what, 400, 'invalid_config', param]);
    }
    expect(g.a.runtime.configStatus().version).toBe(version);
    expect(await g.get('/v1/rollouts')).toEqual(before.rollouts);
    expect(await g.get('/v1/experiments')).toEqual(before.experiments);
    expect(await g.get('/admin/config')).toEqual(before.config);
    expect(await g.get('/v1/rollouts/v2')).toMatchObject({ state: 'paused', percent: 10 });
  });
});
