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
    // The selected deployment's diagram, fed by the event stream, shows its live state.
    const healthy = page.locator('svg [data-state="provider.healthy"].active');
    await expect.poll(() => healthy.count(), { timeout: 10_000 }).toBe(1);
    expect(page.url()).not.toContain('key=');
    expect(page.url().startsWith(`${g.url}/inspect`)).toBe(true);
  }, 30_000);

  it('is refused to a user key', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${g.url}/inspect?key=${user}`);
    expect(response?.status()).toBe(403);
  });
});
