// The conversation API scoped to a tenant: a call with another tenant finds nothing and changes nothing; a
// call without a tenant (the embedding API) reaches every conversation.

import { afterEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { failure } from '../helpers/failure.ts';
import { waitUntil } from '../helpers/wait.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function runtimeOverMock(latencyMs = 0, idleMs = 300_000) {
  const mock = await startMockUpstream({ latencyMs });
  cleanup.push(() => mock.close());
  const runtime = createRuntime({ providers: [{ id: 'p', baseURL: mock.url, models: { chat: 'mock-model' } }], conversations: { idleMs } });
  cleanup.push(() => runtime.stop());
  return { runtime, mock };
}

describe('conversations scoped to a tenant', () => {
  it("never reads, posts into, streams into, lists or deletes another tenant's conversation", async () => {
    const { runtime, mock } = await runtimeOverMock();
    const c = runtime.conversations;
    const { id } = await c.create({ model: 'chat', tenant: 'a' });
    await c.post(id, 'first', { tenant: 'a', idempotencyKey: 'k' });
    const calls = mock.stats().requests;

    expect(await failure(c.get(id, { tenant: 'b' }))).toMatchObject({ code: 'conversation_not_found' });
    expect(await failure(c.post(id, 'intruder', { tenant: 'b' }))).toMatchObject({ code: 'conversation_not_found' });
    // Alice's idempotency key, tried by another tenant: no replay of her reply.
    expect(await failure(c.post(id, 'intruder', { tenant: 'b', idempotencyKey: 'k' }))).toMatchObject({ code: 'conversation_not_found' });
    const stream = c.stream(id, 'intruder', { tenant: 'b' });
    expect(await failure(stream.next())).toMatchObject({ code: 'conversation_not_found' });
    expect(c.list({ tenant: 'b' })).toEqual([]);
    expect(await c.delete(id, { tenant: 'b' })).toBe(false);

    expect(mock.stats().requests).toBe(calls);
    const view = await c.get(id, { tenant: 'a' });
    expect(view.messages.map((m) => m.content)).toEqual(['first', expect.any(String)]);
    expect(c.list({ tenant: 'a' }).map((l) => l.id)).toEqual([id]);
  });

  it("never joins another tenant's turn in flight through a shared idempotency key", async () => {
    const { runtime } = await runtimeOverMock(200);
    const c = runtime.conversations;
    const { id } = await c.create({ model: 'chat', tenant: 'a' });
    const hers = c.post(id, 'slow question', { tenant: 'a', idempotencyKey: 'same' });
    expect(await failure(c.post(id, 'intruder', { tenant: 'b', idempotencyKey: 'same' }))).toMatchObject({
      code: 'conversation_not_found',
    });
    expect((await hers).replayed).toBe(false);
  });

  it('passivates a conversation that a refused post of another tenant activated', async () => {
    const { runtime } = await runtimeOverMock(0, 30);
    const { id } = await runtime.conversations.create({ model: 'chat', tenant: 'a' });
    expect(runtime.conversations.active()).toBe(0);
    await failure(runtime.conversations.post(id, 'intruder', { tenant: 'b' }));
    await waitUntil(() => runtime.conversations.active() === 0);
  });

  it('reaches every conversation without a tenant, and none without an owner with one', async () => {
    const { runtime } = await runtimeOverMock();
    const c = runtime.conversations;
    const owned = (await c.create({ model: 'chat', tenant: 'a' })).id;
    const unowned = (await c.create({ model: 'chat' })).id;
    expect((await c.get(owned)).id).toBe(owned);
    expect((await runtime.conversation(owned).post('hi')).content.length).toBeGreaterThan(0);
    expect(await failure(c.get(unowned, { tenant: 'a' }))).toMatchObject({ code: 'conversation_not_found' });
    expect(await c.delete(owned, { tenant: 'a' })).toBe(true);
    expect(await c.delete(unowned)).toBe(true);
  });
});
