import { mkdirSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';

// Debian's chromium, started as the machine's own probe does: no sandbox as root, no background networking.
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let browser: Browser;
let mocks: MockUpstream[];
let runtime: Runtime;
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  mocks = [await startMockUpstream(), await startMockUpstream()];
  runtime = createRuntime({
    providers: mocks.map((m, i) => ({ id: `p${i}`, baseURL: m.url, models: { chat: 'mock-model' } })),
    health: { minVolume: 1, probeIdleMs: 100, backoff: { initialMs: 300, maxMs: 600, jitter: 'none' } },
  });
  const demo = mocks.map((m, i) => ({ name: `p${i}`, break: () => m.setFaults({ mode: 'error', status: 503 }), heal: () => m.heal() }));
  server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [], demo });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await server?.shutdown(100);
  await Promise.all((mocks ?? []).map((m) => m.close()));
});

describe('the inspector page in Chromium', () => {
  it('shows a broken provider go to recovering and back to healthy, live', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await page.goto(`${server.url}/inspect`);
    const card = page.locator('[data-provider="p0/mock-model"]');
    const highlighted = card.locator('.state.active > .name').first();
    await expect.poll(() => highlighted.textContent(), { timeout: 10_000 }).toBe('healthy');
    await expect.poll(() => page.locator('#status').textContent()).toBe('live');

    await page.click('button[data-break="p0"]');
    // Traffic meets the broken upstream; the circuit opens.
    for (let i = 0; i < 3; i++) await runtime.chat({ model: 'chat', messages: [{ role: 'user', content: `q${i}` }] });
    await expect.poll(() => highlighted.textContent(), { timeout: 10_000 }).toBe('recovering');
    await expect.poll(() => card.locator('.badge').textContent()).toMatch(/coolingDown|probing/);
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/inspector-recovering.png', fullPage: true });

    await page.click('button[data-heal="p0"]');
    // No traffic needed: the synthetic probe finds the upstream healed.
    await expect.poll(() => highlighted.textContent(), { timeout: 15_000 }).toBe('healthy');
    await expect.poll(() => page.locator('#log').textContent()).toContain('recovering.coolingDown');
    await page.screenshot({ path: 'test-artifacts/inspector.png', fullPage: true });
  }, 45_000);

  it('draws every machine from its definition, nested states included', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/inspect`);
    await expect.poll(() => page.locator('[data-machine="conversation"] .state').count(), { timeout: 10_000 }).toBeGreaterThan(5);
    const checking = page.locator('[data-provider="p0/mock-model"] [data-id="provider.recovering.probing.checking"]');
    await expect.poll(() => checking.count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('[data-machine="conversation"]').textContent()).toContain('always [tooLarge] → idle');
  });
});
