import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { conversationMachine } from '../../src/conversation/machine.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { providerMachine } from '../../src/provider/machine.ts';
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

// Counted from the machine definition itself, not from the chart module the page is drawn from.
interface DefinitionNode {
  states: Record<string, DefinitionNode>;
  transitions: Map<string, readonly { target?: readonly unknown[] | undefined }[]>;
  always?: readonly { target?: readonly unknown[] | undefined }[] | undefined;
}
function countDefinition(machine: AnyStateMachine) {
  let states = 0;
  let transitions = 0;
  let compounds = 0;
  const walk = (node: DefinitionNode) => {
    const declared = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    transitions += declared.reduce((n, t) => n + (t.target?.length ?? 0), 0);
    const children = Object.values(node.states);
    if (children.length > 0) compounds += 1;
    states += children.length;
    children.forEach(walk);
  };
  walk(machine.root as unknown as DefinitionNode);
  // The root is the machine, not a state; it still holds an initial marker.
  return { states, transitions, initials: compounds };
}

const shots = mkdtempSync(join(tmpdir(), 'switchyard-inspector-'));
const health = { minVolume: 1, probeIdleMs: 100, backoff: { initialMs: 300, maxMs: 600, jitter: 'none' as const } };

let browser: Browser;
let mocks: MockUpstream[];
let runtime: Runtime;
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  mocks = [await startMockUpstream(), await startMockUpstream()];
  runtime = createRuntime({
    providers: mocks.map((m, i) => ({ id: `p${i}`, baseURL: m.url, models: { chat: 'mock-model' } })),
    health,
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

async function open(url: string, width = 1400, height = 900): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } });
  await page.goto(url);
  await expect.poll(() => page.locator('svg.diagram').count(), { timeout: 10_000 }).toBe(1);
  return page;
}

describe('the inspector page in Chromium', () => {
  it('draws the provider machine: one node per state, one arrow per transition, nested regions', async () => {
    const page = await open(`${server.url}/inspect`);
    const svg = page.locator('svg.diagram[data-machine="provider"]');
    const expected = countDefinition(providerMachine);
    expect(expected.states).toBeGreaterThan(5);
    expect(await svg.locator('[data-state]').count()).toBe(expected.states);
    expect(await svg.locator('[data-transition]').count()).toBe(expected.transitions);
    expect(await svg.locator('[data-initial]').count()).toBe(expected.initials);
    // Arrows carry their event and guard; every arrow has a drawn path.
    expect(await svg.locator('[data-transition] path:not([d=""])').count()).toBe(expected.transitions);
    expect(await svg.textContent()).toContain('[retryableFailure]');
    // The deployment's card beside it.
    expect(await page.locator('#stats').textContent()).toMatch(/in flight.*error rate.*p95.*next probe/);
    expect(await page.locator('#badge').textContent()).toBe('healthy');
    // A nested state is drawn inside the region of its parent.
    const inner = await svg.locator('[data-state="provider.recovering.probing.checking"] > rect').boundingBox();
    const outer = await svg.locator('[data-state="provider.recovering"] > rect').first().boundingBox();
    if (!inner || !outer) throw new Error('states not drawn');
    expect(inner.x).toBeGreaterThan(outer.x);
    expect(inner.y).toBeGreaterThan(outer.y);
    expect(inner.x + inner.width).toBeLessThan(outer.x + outer.width);
    expect(inner.y + inner.height).toBeLessThan(outer.y + outer.height);
    await page.close();
  });

  it('moves the highlight to recovering when a mock upstream breaks, flashes the arrow, and back when it heals', async () => {
    const page = await open(`${server.url}/inspect#p0%2Fmock-model`);
    const svg = page.locator('svg.diagram');
    const active = (id: string) => svg.locator(`[data-state="${id}"].active`);
    await expect.poll(() => active('provider.healthy').count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => page.locator('#status').textContent()).toBe('live');

    // Every arrow that flashes, recorded as it happens (the machine moves on within milliseconds).
    // (Browser code as text: the project's TypeScript has no DOM types.)
    await page.evaluate(`
      window.flashed = [];
      new MutationObserver((changes) => {
        for (const c of changes) if (c.target.classList.contains('flash')) window.flashed.push(
          [c.target.dataset.source, c.target.dataset.event, c.target.dataset.target].join(' '));
      }).observe(document.getElementById('diagram'), { attributes: true, attributeFilter: ['class'], subtree: true });
    `);
    await page.click('button[data-break="p0"]');
    // Traffic meets the broken upstream; the circuit opens.
    for (let i = 0; i < 3; i++) await runtime.chat({ model: 'chat', messages: [{ role: 'user', content: `q${i}` }] });
    await expect.poll(() => active('provider.recovering').count(), { timeout: 10_000 }).toBe(1);
    expect(await active('provider.healthy').count()).toBe(0);
    // The arrow taken out of healthy flashed: declared on healthy, leading into recovering.
    const flashed = (await page.evaluate('window.flashed')) as string[];
    expect(flashed.find((f) => f.startsWith('provider.healthy '))).toMatch(/^provider\.healthy \S+ provider\.recovering$/);
    await expect.poll(() => page.locator('#badge').textContent()).toMatch(/coolingDown|probing/);
    await page.screenshot({ path: join(shots, 'inspector-recovering.png') });

    await page.click('button[data-heal="p0"]');
    // No traffic needed: the synthetic probe finds the upstream healed.
    await expect.poll(() => active('provider.healthy').count(), { timeout: 15_000 }).toBe(1);
    expect(await active('provider.recovering').count()).toBe(0);
    await page.screenshot({ path: join(shots, 'inspector-healed.png') });

    // Time travel: the transition into coolingDown shows the state then, beside the live one.
    await page.locator('#history button', { hasText: '→ coolingDown' }).first().click();
    await expect.poll(() => svg.locator('[data-state="provider.recovering.coolingDown"].past').count()).toBe(1);
    expect(await active('provider.healthy').count()).toBe(1);
    expect(await page.locator('#pinned').textContent()).toContain('recovering.coolingDown');
    await page.click('#pinned button');
    expect(await svg.locator('.past').count()).toBe(0);
    await page.close();
  }, 45_000);

  it('lists conversation actors with search and paging, and draws the selected one live', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { id } = await runtime.conversations.create({ model: 'chat' });
      await runtime.conversations.activate(id);
      ids.push(id);
    }
    const page = await open(`${server.url}/inspect`);
    await expect.poll(() => page.locator('#conv-count').textContent(), { timeout: 10_000 }).toBe('12 active');
    expect(await page.locator('#conversations li').count()).toBe(8);
    await page.click('#conv-next');
    await expect.poll(() => page.locator('#conversations li').count()).toBe(4);

    const wanted = ids[7] ?? '';
    await page.fill('#conv-search', wanted.slice(0, 13));
    await expect.poll(() => page.locator('#conversations li').count()).toBe(1);
    expect(await page.locator('#conv-count').textContent()).toBe('12 active · 1 matching');
    await page.click(`button[data-conversation="${wanted}"]`);
    const svg = page.locator('svg.diagram[data-machine="conversation"]');
    expect(await svg.locator('[data-state]').count()).toBe(countDefinition(conversationMachine).states);
    expect(await svg.locator('[data-transition]').count()).toBe(countDefinition(conversationMachine).transitions);
    await expect.poll(() => svg.locator('[data-state="conversation.idle"].active').count()).toBe(1);
    expect(await page.locator('#actor-name').textContent()).toBe(`conversation ${wanted}`);
    await page.screenshot({ path: join(shots, 'inspector-conversation.png') });
    await page.close();
  }, 30_000);
});

describe('the inspector overview at scale', () => {
  it('shows 30 deployments in one 1400×900 screen, grouped by logical model, without horizontal scroll', async () => {
    const models = { chat: 'mock-model', fast: 'mock-fast', embed: 'mock-embed' };
    const large = createRuntime({
      providers: Array.from({ length: 10 }, (_, i) => ({ id: `region-${i}`, baseURL: mocks[0]?.url ?? '', models })),
      health,
    });
    const gateway = await startServer(large, { port: 0, host: '127.0.0.1', apiKeys: [] });
    try {
      expect(large.providers()).toHaveLength(30);
      const page = await open(`${gateway.url}/inspect`);
      await expect.poll(() => page.locator('.tile').count(), { timeout: 10_000 }).toBe(30);
      expect(await page.locator('#overview .group').count()).toBe(3);
      const [scrollWidth, clientWidth] = (await page.evaluate(
        '[document.documentElement.scrollWidth, document.documentElement.clientWidth]',
      )) as [number, number];
      expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
      const overview = await page.locator('#overview').boundingBox();
      expect(overview && overview.y + overview.height).toBeLessThanOrEqual(900);
      await page.screenshot({ path: join(shots, 'inspector-30-deployments.png') });
      await page.close();
    } finally {
      await gateway.shutdown(100);
    }
  }, 30_000);
});

describe('GET /inspect/conversations', () => {
  it.each([['offset=-1'], ['offset=1e3'], ['limit=0'], ['limit=101'], ['limit=abc'], [`q=${'x'.repeat(201)}`]])(
    'refuses %s with invalid_request',
    async (query) => {
      const res = await fetch(`${server.url}/inspect/conversations?${query}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    },
  );

  it('treats the search as text: path tricks and patterns match nothing', async () => {
    for (const q of ['../../etc/passwd', '.*', '%00', '<script>']) {
      const res = await fetch(`${server.url}/inspect/conversations?q=${encodeURIComponent(q)}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { total: number }).total).toBe(0);
    }
  });
});
