// An instance that stops in the middle of a turn on Postgres leaves its question pending: the instance that
// takes the conversation over answers it before any later turn, so the history stays question, reply,
// question, reply; the same-key retry of the orphaned turn then replays that reply instead of running it again.

import { describe, expect, it } from 'vitest';
import type { TurnResult } from '../../src/conversation/types.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import { startFleet } from '../helpers/fleet.ts';
import { postgresFleets } from '../helpers/postgres-fleets.ts';
import { pollUntil } from '../helpers/wait.ts';

const pg = postgresFleets('takeover');

/** Retries a retryable refusal (the dead instance's lease still lives) with the same key, bounded. */
async function until(post: () => Promise<TurnResult>): Promise<TurnResult> {
  for (let i = 0; i < 200; i++) {
    try {
      return await post();
    } catch (err) {
      if (!(isSwitchyardError(err) && err.code === 'conversation_moved')) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw new Error('the lease never came free');
}

describe('taking over a conversation on Postgres', () => {
  it('answers a turn orphaned by a stopped instance before the next turn, and replays it to its retry', async () => {
    const url = await pg.database();
    const conversations = { leaseMs: 300 };
    // A is closed by the test itself, as a stopped instance.
    const a = await startFleet({ mocks: [{ latencyMs: 60_000 }], conversations, runtime: { store: url } });
    const b = await pg.start({ mocks: [{}], conversations }, url);
    const { id } = await a.runtime.conversations.create({ model: 'chat' });
    void a.runtime.conversations.post(id, 'orphan', { idempotencyKey: 'k-orphan' }).catch(() => {});
    await pollUntil(
      () => b.runtime.conversations.get(id),
      (view) => view.pending.length === 1,
      5000,
    );
    // A stops without a word to the store (its lease expires on its own), as a killed process would.
    await a.close();

    // Another client's turn reaches B first: the orphan is answered before it.
    await until(() => b.runtime.conversations.post(id, 'next', { idempotencyKey: 'k-next' }));
    const { messages } = await b.runtime.conversations.get(id);
    expect(messages.map((m) => `${m.role}:${m.role === 'user' ? m.content : '…'}:${m.status}`)).toEqual([
      'user:orphan:done',
      'assistant:…:done',
      'user:next:done',
      'assistant:…:done',
    ]);
    expect(messages[1]?.turnId).toBe(messages[0]?.turnId);

    const retried = await until(() => b.runtime.conversations.post(id, 'orphan', { idempotencyKey: 'k-orphan' }));
    expect(retried).toMatchObject({ turnId: messages[0]?.turnId, replayed: true });
    expect((await b.runtime.conversations.get(id)).messages).toHaveLength(4);
  }, 20_000);

  it('lets the same-key retry that triggers the takeover join the orphaned turn: one upstream call, one reply', async () => {
    const url = await pg.database();
    const conversations = { leaseMs: 300 };
    const a = await startFleet({ mocks: [{ latencyMs: 60_000 }], conversations, runtime: { store: url } });
    const b = await pg.start({ mocks: [{ latencyMs: 200 }], conversations }, url);
    const { id } = await a.runtime.conversations.create({ model: 'chat' });
    void a.runtime.conversations.post(id, 'orphan', { idempotencyKey: 'k' }).catch(() => {});
    await pollUntil(
      () => b.runtime.conversations.get(id),
      (view) => view.pending.length === 1,
      5000,
    );
    await a.close();

    const retried = await until(() => b.runtime.conversations.post(id, 'orphan', { idempotencyKey: 'k' }));
    // Nothing left to run for it afterwards either: the actor is idle with an empty mailbox.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(b.runtime.conversations.live(id)).toMatchObject({ state: 'idle', queued: 0 });
    expect(b.mocks[0]?.stats().requests).toBe(1);
    const { messages } = await b.runtime.conversations.get(id);
    expect(messages.map((m) => `${m.role}:${m.status}:${m.turnId === retried.turnId}`)).toEqual(['user:done:true', 'assistant:done:true']);
    expect(retried.content).toBe(messages[1]?.content);
  }, 20_000);
});
