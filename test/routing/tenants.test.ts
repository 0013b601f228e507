// Per-tenant rpm/tpm budgets in one process (no Redis): over budget a tenant's request answers 429
// `rate_limited` with Retry-After before any deployment is tried, other tenants go on, provider health never
// hears of it; tokens are settled with the real usage. And tokens reserved by an attempt that failed before the
// upstream used them go back to the deployment's budget.

import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createLocalRateLimiter } from '../../src/routing/budgets.ts';
import { createLocalTenantBudgets } from '../../src/routing/tenants.ts';
import { createRuntime } from '../../src/runtime.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const keys = [
  { key: 'acme-key', tenant: 'acme', role: 'user' as const },
  { key: 'other-key', tenant: 'other', role: 'user' as const },
];

async function gateway(tenants: Record<string, { rpm?: number; tpm?: number }>): Promise<Gateway> {
  const gw = await startGateway({ config: { auth: { keys, tenants } }, server: { keys } });
  cleanup.push(() => gw.close());
  return gw;
}
const chat = (gw: Gateway, key: string) =>
  gw.post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'hello' }] }, { authorization: `Bearer ${key}` });

describe('per-tenant budgets in one process', () => {
  it("answers 429 rate_limited with Retry-After once a tenant's rpm is spent, without calling or blaming a deployment", async () => {
    const gw = await gateway({ acme: { rpm: 3 } });
    for (let i = 0; i < 3; i++) expect((await chat(gw, 'acme-key')).status).toBe(200);
    const refused = await chat(gw, 'acme-key');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    // The refusal never reached the upstream, and the deployment stays healthy with no failure counted.
    expect(gw.mocks[0]?.stats().requests).toBe(3);
    const [deployment] = gw.runtime.providers();
    expect(deployment?.health).toBe('healthy');
    expect(deployment?.metrics).toMatchObject({ failures: 0 });
    // Another tenant has its own budget (none here).
    for (let i = 0; i < 5; i++) expect((await chat(gw, 'other-key')).status).toBe(200);
  });

  it('reaches the openai SDK as a RateLimitError, on embeddings as on chat', async () => {
    const gw = await gateway({ acme: { rpm: 1 } });
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'acme-key', maxRetries: 0 });
    await client.embeddings.create({ model: 'chat', input: 'one' });
    const error = await client.embeddings.create({ model: 'chat', input: 'two' }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('refuses a request larger than what is left of the tpm, settles with the real usage, and refills over the minute', async () => {
    let now = 0;
    const budgets = createLocalTenantBudgets({ acme: { rpm: null, tpm: 1000 } }, () => now);
    const first = await budgets.admit('acme', 600);
    // The upstream used only 100: 900 left, so 800 more fit.
    budgets.settle(first, 100);
    await budgets.admit('acme', 800);
    const refused = await budgets.admit('acme', 200).catch((err: unknown) => err);
    // 100 left, 200 wanted: 100 tokens at 1000 a minute come back in 6 s.
    expect(refused).toMatchObject({ code: 'rate_limited', status: 429, retryAfterMs: 6000 });
    now += 6000;
    await expect(budgets.admit('acme', 200)).resolves.toMatchObject({ tenant: 'acme', tokens: 200 });
    expect(budgets.limited('nobody')).toBe(false);
  });
});

describe('refunds of reserved tokens', () => {
  it("gives an attempt's tokens back to the deployment's tpm when the upstream refused it before using them", async () => {
    const [down, up] = await Promise.all([startMockUpstream({ faults: { mode: 'error', status: 503 } }), startMockUpstream()]);
    cleanup.push(
      () => down.close(),
      () => up.close(),
    );
    const clock = new SimulatedClock();
    // The test owns the local limiter, so it can read the budget left: A's tpm is 100, a request needs ~64.
    const limiter = createLocalRateLimiter({ 'a/mock-model': { rpm: null, tpm: 100 } }, () => clock.now());
    const runtime = createRuntime(
      {
        providers: [
          { id: 'a', baseURL: down.url, models: { chat: 'mock-model' }, tpm: 100 },
          { id: 'b', baseURL: up.url, models: { chat: 'mock-model' } },
        ],
      },
      { limiter, clock },
    );
    cleanup.push(() => runtime.stop());
    const result = await runtime.chat({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(200) }], max_tokens: 10 });
    expect(result.route.attempts.map((a) => a.outcome)).toEqual(['provider_unavailable', 'ok']);
    // A's whole budget is back: a full-size request fits again at the same instant.
    expect(limiter.hasBudget('a/mock-model', 100)).toBe(true);
  });
});
