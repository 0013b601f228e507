// Two runtimes (two gateways, each with its own pool) sharing one Postgres: turns of one conversation reach
// either, one at a time, and the stored history stays one ordered chain with every turn once.

import { describe, expect, it } from 'vitest';
import type { TurnResult } from '../../src/conversation/types.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import type { Fleet } from '../helpers/fleet.ts';
import { postgresFleets } from '../helpers/postgres-fleets.ts';
import { waitUntil } from '../helpers/wait.ts';

const pg = postgresFleets('cluster');
const twoInstances = pg.twoInstances;

/** The stored history as `seq role content status`, and whether it is a chain of whole turns. */
async function chain(conversations: Fleet['runtime']['conversations'], id: string) {
  const { messages } = await conversations.get(id);
  const turns = messages.filter((m) => m.role === 'user').map((m) => m.content);
  const whole = messages.every((m, i) => m.role === (i % 2 === 0 ? 'user' : 'assistant') && m.status === 'done');
  return { turns, whole, count: messages.length };
}

describe('conversations on Postgres across two instances', () => {
  it('keeps one ordered chain when turns alternate between instances', async () => {
    const [a, b] = await twoInstances();
    const { id } = await a.create({ model: 'chat' });
    for (let i = 0; i < 6; i++) await (i % 2 === 0 ? a : b).post(id, `turn ${i}`);
    const stored = await chain(b, id);
    expect(stored.turns).toEqual(['turn 0', 'turn 1', 'turn 2', 'turn 3', 'turn 4', 'turn 5']);
    expect(stored).toMatchObject({ whole: true, count: 12 });
  });

  it('refuses a turn with 409 conversation_moved while the other instance runs one, and takes the next', async () => {
    const [a, b] = await twoInstances(300);
    const { id } = await a.create({ model: 'chat' });
    const first = a.post(id, 'slow turn');
    await waitUntil(() => (a.live(id)?.state ?? 'idle') !== 'idle');
    const refused = await b.post(id, 'meanwhile').catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'conversation_moved', status: 409, retryable: true });
    await first;
    await b.post(id, 'after');
    expect((await chain(a, id)).turns).toEqual(['slow turn', 'after']);
  });

  it('stores every turn once when turns of one conversation race on both instances and retry', async () => {
    const [a, b] = await twoInstances(20);
    const { id } = await a.create({ model: 'chat' });
    /** A client that retries a retryable refusal with the same idempotency key, bounded. */
    const send = async (i: number): Promise<TurnResult> => {
      for (let attempt = 0; attempt < 300; attempt++) {
        try {
          return await ((i + attempt) % 2 === 0 ? a : b).post(id, `turn ${i}`, { idempotencyKey: `k${i}` });
        } catch (err) {
          if (!(isSwitchyardError(err) && err.retryable)) throw err;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      throw new Error(`turn ${i} never got through`);
    };
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => send(i)));
    expect(results).toHaveLength(8);
    const stored = await chain(a, id);
    expect(stored.whole).toBe(true);
    expect([...stored.turns].sort()).toEqual(Array.from({ length: 8 }, (_, i) => `turn ${i}`).sort());
    expect(stored.count).toBe(16);
  });

  it('replays a turn retried through the other instance instead of storing it twice', async () => {
    const [a, b] = await twoInstances();
    const { id } = await a.create({ model: 'chat' });
    const first = await a.post(id, 'hello', { idempotencyKey: 'same' });
    const retried = await b.post(id, 'hello', { idempotencyKey: 'same' });
    expect(retried).toMatchObject({ replayed: true, content: first.content, turnId: first.turnId });
    expect((await chain(b, id)).count).toBe(2);
  });

  it('answers 503 store_unavailable while Postgres restarts and serves the conversation again after, on the same runtime', async () => {
    const server = pg.server();
    const f = await pg.start({ mocks: [{}] }, await pg.database());
    const { conversations } = f.runtime;
    const { id } = await conversations.create({ model: 'chat' });
    await conversations.post(id, 'before');
    await server.stop();
    let restarted = false;
    try {
      await expect(conversations.post(id, 'during')).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
      expect((await f.runtime.storeStatus()).writable).toBe(false);
    } finally {
      await server.start();
      restarted = true;
    }
    expect(restarted).toBe(true);
    await conversations.post(id, 'after');
    expect((await f.runtime.storeStatus()).writable).toBe(true);
    // Nothing of the refused turn was stored.
    expect((await chain(conversations, id)).turns).toEqual(['before', 'after']);
  });

  it('keeps every conversation one chain of whole turns when 20 conversations × 6 turns go to random instances, two at a time', async () => {
    const [a, b] = await twoInstances(5);
    // A seeded choice of instance: the same run every time.
    let seed = 42;
    const pick = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % 2 === 0 ? a : b;
    };
    const send = async (id: string, content: string): Promise<void> => {
      for (let attempt = 0; attempt < 500; attempt++) {
        try {
          await pick().post(id, content, { idempotencyKey: content });
          return;
        } catch (err) {
          if (!(isSwitchyardError(err) && err.retryable)) throw err;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      throw new Error(`${content} never got through`);
    };
    const ids = await Promise.all(Array.from({ length: 20 }, () => a.create({ model: 'chat' }).then((c) => c.id)));
    await Promise.all(
      ids.map(async (id) => {
        for (let turn = 0; turn < 6; turn += 2) await Promise.all([send(id, `${id} turn ${turn}`), send(id, `${id} turn ${turn + 1}`)]);
      }),
    );
    for (const id of ids) {
      const stored = await chain(b, id);
      expect(stored.whole).toBe(true);
      expect(stored.count).toBe(12);
      expect([...stored.turns].sort()).toEqual(Array.from({ length: 6 }, (_, i) => `${id} turn ${i}`));
    }
  }, 60_000);
});
