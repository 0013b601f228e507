// Experiments and rollouts over HTTP with the openai SDK: the variant in the header and the `switchyard` field
// (streams too), per-variant figures read back from /metrics and the admin routes, and hostile callers.

import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const admin = 'admin-key-0123456789';
const user = 'user-key-0123456789';

async function gateway(splits: Pick<SwitchyardConfigInput, 'experiments' | 'rollouts'>) {
  const mocks: MockUpstream[] = await Promise.all([startMockUpstream(), startMockUpstream()]);
  const [a, b] = mocks as [MockUpstream, MockUpstream];
  const runtime = createRuntime({
    providers: [
      { id: 'p0', baseURL: a.url, models: { 'chat-v1': 'model-a' } },
      { id: 'p1', baseURL: b.url, models: { 'chat-v2': 'model-b' } },
    ],
    ...splits,
  });
  const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [user], adminKeys: [admin] });
  closers.push(async () => {
    await server.shutdown(100);
    await Promise.all(mocks.map((m) => m.close()));
  });
  const client = (key: string, headers: Record<string, string> = {}) =>
    new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key, maxRetries: 0, defaultHeaders: headers });
  const get = (path: string, key = admin) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  const post = (path: string, key = admin) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  return { runtime, mocks, client, get, post };
}

const experiment = {
  id: 'tone',
  model: 'chat',
  sticky: 'header:x-user-id',
  variants: [
    { name: 'plain', model: 'chat-v1', weight: 1 },
    { name: 'brief', deployments: ['p1/model-b'], weight: 1, params: { temperature: 0.2, systemPrefix: 'Answer briefly.' } },
  ],
};

describe('experiments over HTTP', () => {
  it('names the variant of each reply, keeps a user on one variant, and reports per-variant figures on /metrics and the route', async () => {
    const g = await gateway({ experiments: [experiment] });
    const seen = new Map<string, string>();
    const counts: Record<string, number> = { plain: 0, brief: 0 };
    for (let i = 0; i < 40; i++) {
      const userId = `user-${i % 20}`;
      const { data, response } = await g
        .client(user, { 'x-user-id': userId })
        .chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: `question ${i}` }] })
        .withResponse();
      const variant = response.headers.get('x-switchyard-variant') ?? '';
      expect((data as unknown as { switchyard: { variant: string } }).switchyard.variant).toBe(variant);
      expect(seen.get(userId) ?? variant).toBe(variant);
      seen.set(userId, variant);
      counts[variant] = (counts[variant] ?? 0) + 1;
    }
    expect(counts.plain).toBeGreaterThan(0);
    expect(counts.brief).toBeGreaterThan(0);
    expect((counts.plain ?? 0) + (counts.brief ?? 0)).toBe(40);
    // The `deployments` variant reached only the second mock.
    expect(g.mocks[1]?.stats().requests).toBe(counts.brief);

    const view = (await (await g.get('/v1/experiments/tone')).json()) as {
      variants: { name: string; requests: number; tokensOut: number }[];
    };
    expect(view.variants.map((v) => [v.name, v.requests])).toEqual([
      ['plain', counts.plain],
      ['brief', counts.brief],
    ]);
    expect(view.variants.every((v) => v.tokensOut > 0)).toBe(true);
    // The split model is listed to clients, and it has no deployments of its own to make the gateway not ready.
    const models = await g.client(user).models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(['chat', 'chat-v1', 'chat-v2']);
    expect((await g.get('/readyz')).status).toBe(200);
    const list = (await (await g.get('/v1/experiments')).json()) as { data: { id: string }[] };
    expect(list.data.map((e) => e.id)).toEqual(['tone']);

    const metrics = await (await g.get('/metrics')).text();
    expect(metrics).toContain(`switchyard_variant_requests_total{experiment="tone",variant="plain",outcome="ok"} ${counts.plain}`);
    expect(metrics).toContain(`switchyard_variant_requests_total{experiment="tone",variant="brief",outcome="ok"} ${counts.brief}`);
    expect(metrics).toMatch(/switchyard_variant_latency_seconds\{experiment="tone",variant="brief",quantile="0\.95"\} \d/);
    expect(metrics).toMatch(/switchyard_variant_tokens_total\{experiment="tone",variant="plain",direction="out"\} [1-9]/);
  });

  it('names the variant of a stream in its header and its final chunk, and measures its time to first token', async () => {
    const g = await gateway({ experiments: [experiment] });
    const { data: stream, response } = await g
      .client(user, { 'x-user-id': 'streamer' })
      .chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'stream please' }] })
      .withResponse();
    const variant = response.headers.get('x-switchyard-variant');
    let last: unknown;
    for await (const chunk of stream) last = chunk;
    expect(variant === 'plain' || variant === 'brief').toBe(true);
    expect((last as { switchyard?: { variant?: string } }).switchyard?.variant).toBe(variant);
    const view = g.runtime.experiment('tone');
    const served = view.variants.find((v) => v.name === variant);
    expect(served).toMatchObject({ requests: 1 });
    expect(served?.ttftP50Ms).not.toBeNull();
  });
});

describe('rollout admin routes', () => {
  const rollout = { id: 'v2', model: 'chat', from: 'chat-v1', to: 'chat-v2', steps: [10, 50, 100], holdMs: 600_000 };

  it('pauses, resumes, promotes and shows the state; refuses what the state does not take', async () => {
    const g = await gateway({ rollouts: [rollout] });
    const list = (await (await g.get('/v1/rollouts')).json()) as { data: { id: string; state: string; percent: number }[] };
    expect(list.data).toMatchObject([{ id: 'v2', state: 'ramping.step1.holding', percent: 10 }]);
    expect(await (await g.post('/v1/rollouts/v2/pause')).json()).toMatchObject({ state: 'paused', percent: 10 });
    const conflict = await g.post('/v1/rollouts/v2/pause');
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as { error: { code: string } }).error.code).toBe('rollout_state_conflict');
    expect(await (await g.post('/v1/rollouts/v2/resume')).json()).toMatchObject({ state: 'ramping.step1.holding' });
    expect(await (await g.post('/v1/rollouts/v2/promote')).json()).toMatchObject({ state: 'promoted', percent: 100 });
    const { response } = await g
      .client(user)
      .chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(response.headers.get('x-switchyard-variant')).toBe('canary');
    expect((await g.post('/v1/rollouts/v2/abort')).status).toBe(409);
    const metrics = await (await g.get('/metrics')).text();
    expect(metrics).toContain('switchyard_rollout_percent{rollout="v2"} 100');
    expect(metrics).toContain('switchyard_rollout_state{rollout="v2",state="promoted"} 1');
  });

  it('aborts to the baseline with the reason', async () => {
    const g = await gateway({ rollouts: [rollout] });
    expect(await (await g.post('/v1/rollouts/v2/abort')).json()).toMatchObject({
      state: 'rolledBack',
      percent: 0,
      reason: 'aborted by the operator',
    });
  });

  it('answers 404 for an unknown id, 400 for an unknown command or a huge id, 403 for a user key, 401 without a key', async () => {
    const g = await gateway({ rollouts: [rollout], experiments: [{ ...experiment, model: 'chat-ab' }] });
    const code = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;
    const unknown = await g.get('/v1/rollouts/nope');
    expect([unknown.status, await code(unknown)]).toEqual([404, 'rollout_not_found']);
    const unknownPost = await g.post('/v1/rollouts/nope/pause');
    expect([unknownPost.status, await code(unknownPost)]).toEqual([404, 'rollout_not_found']);
    const noExperiment = await g.get('/v1/experiments/v2');
    expect([noExperiment.status, await code(noExperiment)]).toEqual([404, 'experiment_not_found']);
    expect((await g.post('/v1/rollouts/v2/explode')).status).toBe(400);
    expect((await g.get(`/v1/rollouts/${'x'.repeat(500)}`)).status).toBe(400);
    // Path tricks reach no other route and no rollout.
    for (const path of ['/v1/rollouts/..%2Fproviders', '/v1/rollouts/v2%2F..%2F..%2Fproviders', '/v1/rollouts/%00']) {
      expect((await g.get(path)).status).toBe(404);
    }
    for (const path of ['/v1/rollouts', '/v1/rollouts/v2', '/v1/experiments', '/v1/experiments/tone']) {
      expect((await g.get(path, user)).status).toBe(403);
      expect((await fetch(new URL(path, (await g.get('/healthz')).url))).status).toBe(401);
    }
    expect((await g.post('/v1/rollouts/v2/promote', user)).status).toBe(403);
    expect(g.runtime.rollout('v2').state).toBe('ramping.step1.holding');
  });
});
