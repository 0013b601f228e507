// The inspector page with keys, in Chromium: opened with an admin key as ?key=, it goes live (fetches with a
// header, the event stream with ?key=) and drops the key from the address bar; a user key gets 403.

import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];
const admin = 'sk-inspector-admin-0123456789';
const user = 'sk-inspector-user-0123456789';
let browser: Browser;
let g: Gateway;

beforeAll(async () => {
  g = await startGateway({ mocks: [{}], server: { apiKeys: [user], adminKeys: [admin] } });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
}, 30_000);
afterAll(async () => {
  await browser?.close();
  await g?.close();
});

describe('the inspector page with keys', () => {
  it('goes live with an admin key given as ?key=, then forgets it in the address bar', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${g.url}/inspect?key=${admin}`);
    expect(response?.status()).toBe(200);
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 10_000 }).toBe('live');
    const card = page.locator('[data-provider="p0/mock-model"] .state.active > .name').first();
    await expect.poll(() => card.textContent(), { timeout: 10_000 }).toBe('healthy');
    expect(page.url()).toBe(`${g.url}/inspect`);
  }, 30_000);

  it('is refused to a user key', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${g.url}/inspect?key=${user}`);
    expect(response?.status()).toBe(403);
  });
});
