// Experiments and rollouts on POST /v1/embeddings, with the openai SDK against two mock upstreams: the split,
// stickiness by header and by x-conversation-id, the variant on the reply, per-variant figures, and a canary
// that is down handing its requests to the baseline.

import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { subjectPoint } from '../../src/rollout/hash.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const admin = 'admin-key-0123456789';
const user = 'user-key-0123456789';

async function gateway(splits: Pick<SwitchyardConfigInput, 'experiments' | 'rollouts'>) {
  const mocks = (await Promise.all([startMockUpstream(), startMockUpstream()])) as [MockUpstream, MockUpstream];
  const runtime = createRuntime({
    providers: [
      { id: 'p0', baseURL: mocks[0].url, models: { 'embed-v1': 'embed-a' } },
      { id: 'p1', baseURL: mocks[1].url, models: { 'embed-v2': 'embed-b' } },
    ],
    // A canary that is down is not waited for: the baseline answers at once.
    routing: { maxWaitForRecoveryMs: 0 },
    ...splits,
  });
  const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [user], adminKeys: [admin] });
  closers.push(async () => {
    await server.shutdown(100);
    await Promise.all(mocks.map((m) => m.close()));
  });
  const client = (headers: Record<string, string> = {}) =>
    new OpenAI({ baseURL: `${server.url}/v1`, apiKey: user, maxRetries: 0, defaultHeaders: headers });
  const get = (path: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${admin}` } });
  return { runtime, mocks, client, get, url: server.url };
}

// The second variant sets chat parameters: they mean nothing to embeddings and must not break them.
const experiment = (sticky: string) => ({
  id: 'vectors',
  model: 'embed',
  sticky,
  variants: [
    { name: 'small', model: 'embed-v1', weight: 1 },
    { name: 'large', model: 'embed-v2', weight: 1, params: { temperature: 0.2, max_tokens: 5, systemPrefix: 'Be brief.' } },
  ],
});

type Routed = { switchyard: { variant?: string; model: string; deployments: string[] } };

async function embed(client: OpenAI, input: string) {
  const { data, response } = await client.embeddings.create({ model: 'embed', input }).withResponse();
  const variant = response.headers.get('x-switchyard-variant');
  expect((data as unknown as Routed).switchyard.variant).toBe(variant);
  expect(data.model).toBe('embed');
  expect(data.data[0]?.embedding.length).toBeGreaterThan(0);
  return { variant: variant ?? '', data: data as typeof data & Routed };
}

describe('experiments on embeddings', () => {
  it('splits by a header, keeps each user on one variant, names it, and counts it per variant', async () => {
    const g = await gateway({ experiments: [experiment('header:x-user-id')] });
    const seen = new Map<string, string>();
    const counts: Record<string, number> = { small: 0, large: 0 };
    for (let i = 0; i < 40; i++) {
      const userId = `user-${i % 20}`;
      const { variant } = await embed(g.client({ 'x-user-id': userId }), `text ${i}`);
      expect(seen.get(userId) ?? variant).toBe(variant);
      seen.set(userId, variant);
      counts[variant] = (counts[variant] ?? 0) + 1;
    }
    expect(counts.small).toBeGreaterThan(0);
    expect(counts.large).toBeGreaterThan(0);
    expect((counts.small ?? 0) + (counts.large ?? 0)).toBe(40);
    // Each variant's upstream got exactly its share, on its embeddings route.
    expect(g.mocks[0].stats().byRoute.embeddings).toBe(counts.small);
    expect(g.mocks[1].stats().byRoute.embeddings).toBe(counts.large);

    const view = (await (await g.get('/v1/experiments/vectors')).json()) as {
      variants: { name: string; requests: number; errors: number; tokensIn: number; tokensOut: number; latencyP50Ms: number | null }[];
    };
    expect(view.variants.map((v) => [v.name, v.requests, v.errors])).toEqual([
      ['small', counts.small, 0],
      ['large', counts.large, 0],
    ]);
    for (const v of view.variants) {
      expect(v.tokensIn).toBeGreaterThan(0);
      expect(v.tokensOut).toBe(0);
      expect(v.latencyP50Ms).not.toBeNull();
    }
    const metrics = await (await g.get('/metrics')).text();
    expect(metrics).toContain(`switchyard_variant_requests_total{experiment="vectors",variant="small",outcome="ok"} ${counts.small}`);
    expect(metrics).toContain(`switchyard_variant_requests_total{experiment="vectors",variant="large",outcome="ok"} ${counts.large}`);
  });

  it('under sticky conversation, keeps an x-conversation-id on the arm its hash picks, and draws requests without one', async () => {
    const g = await gateway({ experiments: [experiment('conversation')] });
    for (const conversation of ['conv-a', 'conv-b', 'conv-c', 'conv-d']) {
      // Equal weights: the lower half of [0, 1) is the first variant's.
      const expected = subjectPoint('vectors', conversation) < 0.5 ? 'small' : 'large';
      for (let i = 0; i < 3; i++) {
        expect((await embed(g.client({ 'x-conversation-id': conversation }), `c ${i}`)).variant).toBe(expected);
      }
    }
    // Without the header each request is drawn anew: 30 fair draws all alike would be a 1 in 500 million chance.
    const drawn = new Set<string>();
    for (let i = 0; i < 30; i++) drawn.add((await embed(g.client(), `free ${i}`)).variant);
    expect([...drawn].sort()).toEqual(['large', 'small']);
  });

  it('refuses a malformed body before any variant counts it', async () => {
    const g = await gateway({ experiments: [experiment('header:x-user-id')] });
    for (const body of ['{"model":"embed","input":""}', '{"model":"embed","input":[[]]}', '{"model":"embed"}']) {
      const res = await fetch(`${g.url}/v1/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json', 'x-user-id': '<script>alert(1)</script>' },
        body,
      });
      expect(res.status).toBe(400);
    }
    expect(g.runtime.experiment('vectors').variants.map((v) => v.requests)).toEqual([0, 0]);
    expect(g.mocks[0].stats().requests + g.mocks[1].stats().requests).toBe(0);
  });
});

describe('rollouts on embeddings', () => {
  const rollout = {
    id: 'v2',
    model: 'embed',
    from: 'embed-v1',
    to: 'embed-v2',
    steps: [10, 50, 100],
    holdMs: 600_000,
    sticky: 'header:x-user-id',
  };

  it('sends the users below the percentage to the canary and names the arm', async () => {
    const g = await gateway({ rollouts: [rollout] });
    for (let i = 0; i < 30; i++) {
      const userId = `user-${i}`;
      const expected = subjectPoint('v2', userId) < 0.1 ? 'canary' : 'baseline';
      expect((await embed(g.client({ 'x-user-id': userId }), `t ${i}`)).variant).toBe(expected);
    }
    const view = g.runtime.rollout('v2');
    expect(view.arms.baseline.requests + view.arms.canary.requests).toBe(30);
    expect(view.window.baseline.tokensIn).toBeGreaterThan(0);
  });

  it('serves every request from the baseline when the canary is down, and charges the canary', async () => {
    const g = await gateway({ rollouts: [rollout] });
    g.runtime.rolloutCommand('v2', 'promote');
    expect((await embed(g.client({ 'x-user-id': 'u' }), 'before')).variant).toBe('canary');
    g.mocks[1].setFaults({ mode: 'error', status: 503 });
    for (let i = 0; i < 10; i++) {
      const { variant, data } = await embed(g.client({ 'x-user-id': `user-${i}` }), `down ${i}`);
      expect(variant).toBe('baseline');
      expect(data.switchyard.deployments).toEqual(['p0/embed-a']);
    }
    const view = g.runtime.rollout('v2');
    expect(view.arms.canary.errors).toBe(10);
    expect(view.arms.canary.requests).toBe(11);
    expect(view.arms.baseline.requests).toBe(10);
    expect(g.mocks[0].stats().byRoute.embeddings).toBe(10);
  });
});
