// The small findings of issue 14 (11): a 100,000-deep content array is a 400, ids over the length limit get
// OpenAI's error shape, and `npm run chaos -- --help` prints its help instead of running.

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let g: Gateway;
beforeAll(async () => {
  g = await startGateway({ server: { bodyLimit: 1024 * 1024 } });
});
afterAll(async () => g.close());

type ErrorBody = { error: { message: string; type: string; code: string; param: string | null } };

describe('edges', () => {
  it('answers a 100,000-deep content array with 400 invalid_request', async () => {
    const content = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const res = await g.post('/v1/chat/completions', `{"model":"chat","messages":[{"role":"user","content":${content}}]}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.code).toBe('invalid_request');
    expect(g.runtime.providers().every((p) => p.health === 'healthy')).toBe(true);
  });

  it.each([101, 128, 129, 1000, 5000])('answers a conversation id of %i characters in OpenAI error shape', async (length) => {
    const res = await fetch(`${g.url}/v1/conversations/${'a'.repeat(length)}`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const body = (await res.json()) as ErrorBody;
    expect(body.error).toMatchObject({ message: expect.any(String), type: expect.any(String), code: expect.any(String) });
    expect(body.error.code).not.toMatch(/^FST_/);
  });

  it('prints the chaos run help and exits 0 without running it', () => {
    const script = new URL('../../bench/chaos.ts', import.meta.url).pathname;
    const help = spawnSync(process.execPath, [script, '--help'], { encoding: 'utf8', timeout: 15_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--conversations N');
    const unknown = spawnSync(process.execPath, [script, '--conversation', '5'], { encoding: 'utf8', timeout: 15_000 });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--conversation'");
  });
});
