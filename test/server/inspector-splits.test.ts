// Experiments and rollouts on the inspector page (Chromium): an experiment's split with its variants and their
// figures following the requests, a rollout's step, arms and each guard's measured value beside its limit up to
// a rollback, and names carrying HTML shown as text, never run.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { subjectPoint } from '../../src/rollout/hash.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';

const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'];
const shots = mkdtempSync(join(tmpdir(), 'switchyard-inspector-splits-'));
// A logical model name may hold anything a provider's config holds: here, markup that would run if parsed.
const hostile = '<img src=x onerror="window.__pwned=1">';

let browser: Browser;
let mocks: [MockUpstream, MockUpstream];
let runtime: Runtime;
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  mocks = (await Promise.all([startMockUpstream(), startMockUpstream()])) as [MockUpstream, MockUpstream];
  runtime = createRuntime({
    providers: [
      { id: 'p0', baseURL: mocks[0].url, models: { 'model-v1': 'model-a' } },
      { id: 'p1', baseURL: mocks[1].url, models: { 'model-v2': 'model-b', [hostile]: 'model-c' } },
    ],
    routing: { maxWaitForRecoveryMs: 0 },
    experiments: [
      {
        id: 'vectors',
        model: 'embed',
        sticky: 'header:x-user-id',
        variants: [
          { name: 'small', model: 'model-v1', weight: 3 },
          { name: 'large', model: 'model-v2', weight: 1 },
        ],
      },
      { id: 'odd', model: `split${hostile}`, variants: [{ name: 'only', model: hostile }] },
    ],
    rollouts: [
      { id: 'v2', model: 'chat', from: 'model-v1', to: 'model-v2', holdMs: 600_000, sticky: 'header:x-user-id', guard: { minRequests: 5 } },
    ],
  });
  server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [] });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await server?.shutdown(100);
  await Promise.all((mocks ?? []).map((m) => m.close()));
});

const headerSubject = (id: string) => ({ header: (name: string) => (name === 'x-user-id' ? id : undefined) });

async function open(hash: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${server.url}/inspect#${hash}`);
  await expect.poll(() => page.locator('#status').textContent(), { timeout: 10_000 }).toBe('live');
  return page;
}

/** Users whose hash puts them below `percent` (the canary of rollout `id`), or at or above it. */
function users(id: string, percent: number, canary: boolean, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count && i < 100_000; i++) {
    if (subjectPoint(id, `user-${i}`) < percent / 100 === canary) out.push(`user-${i}`);
  }
  return out;
}

describe('experiments and rollouts on the inspector page', () => {
  it('draws an experiment as its split, with each variant’s figures following the requests', async () => {
    const page = await open('experiment:vectors');
    const split = page.locator('svg.split[data-experiment="vectors"]');
    await expect.poll(() => split.count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('#actor-name').textContent()).toBe('experiment vectors');
    expect(
      await split.locator('[data-variant]').evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-variant'), g.textContent])),
    ).toEqual([
      ['small', '75 %'],
      ['large', '25 %'],
    ]);
    expect(await page.locator('#experiments li').allTextContents()).toEqual([
      'vectors embed · small 0 / large 0',
      `odd split${hostile} · only 0`,
    ]);

    for (let i = 0; i < 24; i++) await runtime.embeddings({ model: 'embed', input: `text ${i}` }, { subject: headerSubject(`user-${i}`) });
    const view = runtime.experiment('vectors');
    const [small, large] = view.variants;
    expect((small?.requests ?? 0) + (large?.requests ?? 0)).toBe(24);
    for (const v of view.variants) {
      // The table and the picture follow within the feed's next delta.
      await expect
        .poll(() => page.locator(`#figures tr[data-arm="${v.name}"] [data-figure="requests"]`).textContent(), { timeout: 10_000 })
        .toBe(String(v.requests));
      expect(await split.locator(`[data-variant-box="${v.name}"]`).textContent()).toContain(`${v.requests} req · 0.0 % err`);
    }
    expect(await page.locator('#stats').textContent()).toContain('requests 24');
    await page.screenshot({ path: join(shots, 'inspector-experiment.png'), fullPage: true });
    await page.close();
  }, 30_000);

  it('shows a rollout’s step, both arms and each guard’s measured value against its limit, up to the breach', async () => {
    const page = await open('rollout:v2');
    await expect.poll(() => page.locator('svg.diagram[data-machine="rollout"]').count(), { timeout: 10_000 }).toBe(1);
    const chat = (user: string) =>
      runtime.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { subject: headerSubject(user) });
    const canaryUsers = users('v2', 10, true, 5);
    for (const user of users('v2', 10, false, 8)) await chat(user);
    for (const user of canaryUsers.slice(0, 2)) await chat(user);

    const guard = (name: string) => page.locator(`#figures tr[data-guard="${name}"]`);
    await expect.poll(() => guard('minRequests').locator('[data-measured]').textContent(), { timeout: 10_000 }).toBe('2');
    expect(await guard('minRequests').getAttribute('data-status')).toBe('waiting');
    expect(await guard('minRequests').textContent()).toContain('≥ 5 before judging');
    expect(await guard('errorRateIncrease').textContent()).toContain('+0.0 pts≤ +2.0 pts');
    const stats = await page.locator('#stats').textContent();
    expect(stats).toContain('canary 10 %');
    expect(stats).toContain('step 1 of 3 (10 → 50 → 100 %)');
    expect(await page.locator('#figures tr[data-arm="baseline"] [data-figure="requests"]').textContent()).toBe('8');
    expect(await page.locator('#figures tr[data-arm="canary"]').textContent()).toContain('model-v2');

    // The canary fails: its users are served by the baseline, and at minRequests the error-rate guard breaches.
    mocks[1].setFaults({ mode: 'error', status: 503 });
    for (const user of canaryUsers.slice(2)) await chat(user);
    const view = runtime.rollout('v2');
    expect(view.state).toBe('rolledBack');
    const increase = view.window.canary.errors / view.window.canary.requests - view.window.baseline.errors / view.window.baseline.requests;
    await expect.poll(() => guard('errorRateIncrease').getAttribute('data-status'), { timeout: 10_000 }).toBe('breached');
    expect(await guard('errorRateIncrease').locator('[data-measured]').textContent()).toBe(`+${(100 * increase).toFixed(1)} pts`);
    expect(await guard('minRequests').getAttribute('data-status')).toBe('ok');
    await expect.poll(() => page.locator('[data-state="rollout.rolledBack"].active').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('#stats').textContent()).toContain(`reason ${view.reason}`);
    expect(await page.locator('#rollouts li').textContent()).toBe('v2 rolledBack · 0 %');
    await page.screenshot({ path: join(shots, 'inspector-rollout-guards.png'), fullPage: true });
    mocks[1].heal();
    await page.close();
  }, 30_000);

  it('shows names holding markup as text and runs none of it, from the config or the address', async () => {
    const page = await open(`experiment:odd`);
    const split = page.locator('svg.split[data-experiment="odd"]');
    await expect.poll(() => split.count(), { timeout: 10_000 }).toBe(1);
    expect(await split.locator('[data-variant-box="only"]').textContent()).toContain(`only → ${hostile}`);
    expect(await page.locator('#stats').textContent()).toContain(`model split${hostile}`);
    // A fresh page: the id in the address selects an experiment that does not exist.
    const other = await open(`experiment:${encodeURIComponent('<img src=x onerror="window.__pwned=2">')}`);
    await expect
      .poll(() => other.locator('#actor-name').textContent(), { timeout: 10_000 })
      .toBe('experiment <img src=x onerror="window.__pwned=2">');
    expect(await other.locator('#badge').textContent()).toBe('unknown');
    for (const p of [page, other]) {
      expect(await p.evaluate("document.querySelectorAll('img').length")).toBe(0);
      expect(await p.evaluate('window.__pwned')).toBeUndefined();
      await p.close();
    }
  }, 30_000);

  it('refuses an experiment id holding markup in the config, before anything draws it', () => {
    expect(() =>
      createRuntime({
        providers: [{ id: 'p0', baseURL: mocks[0].url, models: { m: 'model-a' } }],
        experiments: [{ id: '<script>alert(1)</script>', model: 'x', variants: [{ name: 'a', model: 'm' }] }],
      }),
    ).toThrow(/experiments\/0\/id|experiments\.0\.id|expected an id/);
  });
});
