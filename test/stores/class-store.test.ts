// A store an embedder writes as a class keeps its methods on the prototype: the runtime's store wrapper must
// still reach every one of them (review finding: a spread copied own properties only, and create failed with
// "store.countByTenant is not a function").

import { afterEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { ConversationStore } from '../../src/stores/types.ts';

class ClassStore implements ConversationStore {
  readonly #inner = createMemoryStore();
  closed = false;
  create(...args: Parameters<ConversationStore['create']>) {
    return this.#inner.create(...args);
  }
  load(id: string) {
    return this.#inner.load(id);
  }
  appendUser(...args: Parameters<ConversationStore['appendUser']>) {
    return this.#inner.appendUser(...args);
  }
  completeTurn(...args: Parameters<ConversationStore['completeTurn']>) {
    return this.#inner.completeTurn(...args);
  }
  failTurn(...args: Parameters<ConversationStore['failTurn']>) {
    return this.#inner.failTurn(...args);
  }
  restartTurn(...args: Parameters<ConversationStore['restartTurn']>) {
    return this.#inner.restartTurn(...args);
  }
  saveSummary(...args: Parameters<ConversationStore['saveSummary']>) {
    return this.#inner.saveSummary(...args);
  }
  delete(id: string) {
    return this.#inner.delete(id);
  }
  countByTenant(tenant: string | null) {
    return this.#inner.countByTenant(tenant);
  }
  async close() {
    this.closed = true;
  }
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('a conversation store written as a class', () => {
  it('creates, posts to and reads a conversation through it', async () => {
    const mock = await startMockUpstream();
    cleanup.push(() => mock.close());
    const store = new ClassStore();
    const runtime = createRuntime({ providers: [{ id: 'm', baseURL: mock.url, models: { chat: 'mock-model' } }] }, { store });
    cleanup.push(() => runtime.stop());
    const { id } = await runtime.conversations.create({ model: 'chat' });
    const turn = await runtime.conversations.post(id, 'hello');
    expect(turn.content).not.toBe('');
    expect((await runtime.conversations.get(id)).messages).toHaveLength(2);
  });
});
