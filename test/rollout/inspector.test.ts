// The rollout actor in the inspection stream and on the inspector page (Chromium): its chart, its live state
// (moved by an operator command), its percentage, arms and guards.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectionRecord } from '../../src/inspection/events.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRolloutMachine } from '../../src/rollout/machine.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';

const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'];
const shots = mkdtempSync(join(tmpdir(), 'switchyard-rollout-inspector-'));

let browser: Browser;
let mocks: MockUpstream[];
let runtime: Runtime;
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  mocks = [await startMockUpstream(), await startMockUpstream()];
  runtime = createRuntime({
    providers: [
      { id: 'p0', baseURL: mocks[0]?.url ?? '', models: { 'chat-v1': 'model-a' } },
      { id: 'p1', baseURL: mocks[1]?.url ?? '', models: { 'chat-v2': 'model-b' } },
    ],
    rollouts: [{ id: 'v2', model: 'chat', from: 'chat-v1', to: 'chat-v2', holdMs: 600_000, guard: { minRequests: 5 } }],
  });
  server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [] });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await server?.shutdown(100);
  await Promise.all((mocks ?? []).map((m) => m.close()));
});

describe('the rollout actor in the inspector', () => {
  it('reports its state changes in the inspection stream under rollout:<id>', async () => {
    const records: InspectionRecord[] = [];
    const unsubscribe = runtime.subscribe((r) => records.push(r));
    runtime.rolloutCommand('v2', 'pause');
    runtime.rolloutCommand('v2', 'resume');
    unsubscribe();
    expect(records.filter((r) => r.actor === 'rollout:v2').map((r) => [r.machine, r.from, r.state, r.event])).toEqual([
      ['rollout', 'ramping.step1.holding', 'paused', 'operator.pause'],
      ['rollout', 'paused', 'ramping.step1.holding', 'operator.resume'],
    ]);
  });

  it('draws the rollout chart with the live state, the percentage, the arms and the guard, and follows a pause', async () => {
    for (let i = 0; i < 20; i++) await runtime.chat({ model: 'chat', messages: [{ role: 'user', content: `q ${i}` }] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${server.url}/inspect#rollout:v2`);
    const svg = page.locator('svg.diagram[data-machine="rollout"]');
    await expect.poll(() => svg.count(), { timeout: 10_000 }).toBe(1);
    const steps = Object.keys(createRolloutMachine([10, 50, 100]).root.states.ramping?.states ?? {});
    expect(steps).toEqual(['step1', 'step2', 'step3']);
    for (const step of steps) expect(await svg.locator(`[data-state="rollout.ramping.${step}"]`).count()).toBe(1);
    await expect.poll(() => svg.locator('[data-state="rollout.ramping.step1.holding"].active').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('#actor-name').textContent()).toBe('rollout v2');
    const stats = await page.locator('#stats').textContent();
    expect(stats).toContain('canary 10 %');
    expect(stats).toContain('step 1 of 3');
    expect(await page.locator('#figures [data-guard="minRequests"]').textContent()).toContain('≥ 5 before judging');
    expect(await page.locator('#rollouts li').textContent()).toContain('v2');
    runtime.rolloutCommand('v2', 'pause');
    await expect.poll(() => svg.locator('[data-state="rollout.paused"].active').count(), { timeout: 10_000 }).toBe(1);
    await page.screenshot({ path: join(shots, 'inspector-rollout.png') });
    runtime.rolloutCommand('v2', 'resume');
    await page.close();
  }, 30_000);
});
