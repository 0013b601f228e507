// POST /inspect/demo/:name/:action (demo mode): its params are typed from their schema; only a known target
// and `break` or `heal` reach a mock upstream, anything else is a 404 that touches nothing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let g: Gateway;
const done: string[] = [];
beforeAll(async () => {
  g = await startGateway({
    server: { demo: [{ name: 'p0', break: () => void done.push('break p0'), heal: () => void done.push('heal p0') }] },
  });
});
afterAll(async () => g.close());

// A keyless gateway takes state changes only as JSON (no simple cross-origin requests).
const post = (path: string) => fetch(`${g.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });

describe('the demo break/heal route', () => {
  it('breaks and heals a known target', async () => {
    expect(await (await post('/inspect/demo/p0/break')).json()).toEqual({ name: 'p0', action: 'break' });
    expect(await (await post('/inspect/demo/p0/heal')).json()).toEqual({ name: 'p0', action: 'heal' });
    expect(done).toEqual(['break p0', 'heal p0']);
  });

  it.each([
    ['an unknown action', '/inspect/demo/p0/explode'],
    ['an unknown target', '/inspect/demo/p9/break'],
    ['an encoded path in the name', '/inspect/demo/..%2Fp0/break'],
    ['a NUL byte after the action', '/inspect/demo/p0/break%00'],
    ['a case variant of the action', '/inspect/demo/p0/BREAK'],
  ])('answers 404 to %s and touches nothing', async (_name, path) => {
    const before = done.length;
    const res = await post(path);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toMatch(/not_found/);
    expect(done).toHaveLength(before);
  });

  it('refuses a target name longer than a path parameter may be, and touches nothing', async () => {
    const before = done.length;
    // fastify's maxParamLength (100) answers 414 before any handler runs.
    expect((await post(`/inspect/demo/${'p'.repeat(10_000)}/break`)).status).toBe(414);
    expect(done).toHaveLength(before);
  });
});
