// Finding 2 of issue 14: a request that fails before a byte reaches an upstream is the client's fault. It is
// answered 4xx and never reported to a provider actor, so no client can trip the circuits other keys rely on.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let g: Gateway;
beforeAll(async () => {
  g = await startGateway({ mocks: [{}, {}], server: { bodyLimit: 1024 * 1024 } });
});
afterAll(async () => g.close());

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const deepBody = (depth: number) => `{"model":"chat","messages":[{"role":"user","content":"hi"}],"x":${nested(depth)}}`;
const upstreamRequests = () => g.mocks.reduce((n, m) => n + m.stats().requests, 0);

describe('client faults are never provider failures', () => {
  it('answers five 20,000-deep bodies 400 invalid_request and leaves every deployment healthy', async () => {
    const before = upstreamRequests();
    for (let i = 0; i < 5; i++) {
      const res = await g.post('/v1/chat/completions', deepBody(20_000));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    expect(upstreamRequests()).toBe(before);
    for (const p of g.runtime.providers())
      expect({ id: p.id, health: p.health, failures: p.metrics.failures }).toEqual({ id: p.id, health: 'healthy', failures: 0 });
    const ok = await g.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(ok.choices).toHaveLength(1);
  });

  it('accepts a body 64 levels deep and refuses one 65 levels deep', async () => {
    // The body object itself is level 1, the array of `x` level 2.
    expect((await g.post('/v1/chat/completions', deepBody(63))).status).toBe(200);
    expect((await g.post('/v1/chat/completions', deepBody(64))).status).toBe(400);
  });

  it('does not count brackets inside strings as depth', async () => {
    const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `${'[{'.repeat(500)}"\\` }] });
    expect((await g.post('/v1/chat/completions', body)).status).toBe(200);
  });

  it('refuses a request the adapter cannot serialize as invalid_request without telling any provider', async () => {
    // An embedder can pass what HTTP never could: a cyclic object.
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const before = upstreamRequests();
    for (let i = 0; i < 5; i++) {
      await expect(
        g.runtime.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], metadata: cyclic } as never),
      ).rejects.toMatchObject({ code: 'invalid_request' });
    }
    expect(upstreamRequests()).toBe(before);
    for (const p of g.runtime.providers()) {
      expect(p.health).toBe('healthy');
      expect(p.metrics.failures).toBe(0);
      expect(p.lastError).toBeNull();
    }
  });
});
