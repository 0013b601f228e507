// Shared budgets on a real Redis: admissions across instances never exceed the limit, the window slides, and
// settling corrects the tokens.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSharedBudgets } from '../../src/cluster/budgets.ts';
import { type ClusterLink, createClusterLink } from '../../src/cluster/link.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { waitUntil } from '../helpers/wait.ts';

let redis: TestRedis;
const links: ClusterLink[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(links.map((l) => l.close()));
  await redis.stop();
});

async function instances(count: number, prefix: string) {
  const made = Array.from({ length: count }, (_, i) => createClusterLink({ url: redis.url, instanceId: `gw-${i}`, prefix }));
  links.push(...made);
  await waitUntil(() => made.every((l) => l.status() === 'up'), 5000);
  return made;
}

describe('shared budgets', () => {
  it('admits exactly the rpm limit across three instances racing for it', async () => {
    const budgets = (await instances(3, 'rpm')).map((link) => createSharedBudgets(link, () => ({ rpm: 50, tpm: null })));
    const results = await Promise.all(budgets.flatMap((b) => Array.from({ length: 40 }, () => b.reserve('a/m', 10))));
    expect(results.filter((r) => r.admitted)).toHaveLength(50);
    const denied = results.find((r) => !r.admitted);
    expect(denied && !denied.admitted && denied.retryAfterMs).toBeGreaterThan(0);
  });

  it('admits by tokens per minute and lets a request larger than the budget go only into an empty window', async () => {
    const [link] = await instances(1, 'tpm');
    if (!link) throw new Error('no link');
    const budgets = createSharedBudgets(link, () => ({ rpm: null, tpm: 100 }));
    expect((await budgets.reserve('a/m', 500)).admitted).toBe(true);
    expect((await budgets.reserve('a/m', 1)).admitted).toBe(false);
    const other = createSharedBudgets(link, () => ({ rpm: null, tpm: 100 }));
    const first = await other.reserve('b/m', 60);
    expect(first.admitted).toBe(true);
    expect((await other.reserve('b/m', 50)).admitted).toBe(false);
    if (!first.admitted) return;
    await other.settle(first.reservation, 20); // the upstream used fewer tokens than estimated
    const after = await other.reserve('b/m', 50);
    expect(after).toMatchObject({ admitted: true, tokens: 70 });
  });

  it('slides: an admission leaves the window one window after it was made', async () => {
    const [link] = await instances(1, 'slide');
    if (!link) throw new Error('no link');
    const budgets = createSharedBudgets(link, () => ({ rpm: 2, tpm: null }), { windowMs: 300 });
    expect((await budgets.reserve('a/m', 1)).admitted).toBe(true);
    expect((await budgets.reserve('a/m', 1)).admitted).toBe(true);
    const denied = await budgets.reserve('a/m', 1);
    expect(denied.admitted).toBe(false);
    if (denied.admitted) return;
    expect(denied.retryAfterMs).toBeLessThanOrEqual(300);
    await new Promise((r) => setTimeout(r, denied.retryAfterMs + 20));
    expect(await budgets.reserve('a/m', 1)).toMatchObject({ admitted: true, requests: 1 });
  });
});
