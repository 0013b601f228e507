// The in-memory store: for tests and for embedding when durability is not wanted.

import { SwitchyardError } from '../errors.ts';
import type { ConversationRecord, ConversationStore, MessageRecord, StoredConversation, SummaryRecord } from './types.ts';

export function createMemoryStore(): ConversationStore {
  const conversations = new Map<string, StoredConversation>();
  const get = (id: string) => {
    const found = conversations.get(id);
    if (!found) throw new SwitchyardError('conversation_not_found', `no conversation "${id}"`);
    return found;
  };
  const clone = <T>(value: T): T => structuredClone(value);
  return {
    async create(conversation: ConversationRecord) {
      if (conversations.has(conversation.id)) {
        throw new SwitchyardError('conversation_exists', `conversation "${conversation.id}" exists`);
      }
      conversations.set(conversation.id, { conversation: clone(conversation), messages: [] });
    },
    async load(id) {
      const found = conversations.get(id);
      return found ? clone(found) : null;
    },
    async appendUser(id, message: MessageRecord) {
      get(id).messages.push(clone(message));
    },
    async completeTurn(id, turnId, reply) {
      const c = get(id);
      for (const m of c.messages) if (m.turnId === turnId) m.status = 'done';
      c.messages.push(clone(reply));
    },
    async failTurn(id, turnId, status, partial) {
      const c = get(id);
      for (const m of c.messages) if (m.turnId === turnId) m.status = status;
      if (partial) c.messages.push(clone({ ...partial, status }));
    },
    async restartTurn(id, turnId) {
      const c = get(id);
      c.messages = c.messages.filter((m) => !(m.turnId === turnId && m.role === 'assistant'));
      for (const m of c.messages) if (m.turnId === turnId) m.status = 'pending';
    },
    async saveSummary(id, summary: SummaryRecord) {
      get(id).conversation.summary = clone(summary);
    },
    async appendMessages(id, messages) {
      get(id).messages.push(...clone(messages));
    },
    async setMetadata(id, metadata) {
      get(id).conversation.metadata = clone(metadata);
    },
    async deleteMessage(id, seq) {
      const c = get(id);
      const before = c.messages.length;
      c.messages = c.messages.filter((m) => m.seq !== seq);
      return c.messages.length < before;
    },
    async countByTenant(tenant) {
      let n = 0;
      for (const c of conversations.values()) if ((c.conversation.tenant ?? null) === tenant) n++;
      return n;
    },
    // One process, one writer: the lease is always this store's and its token never changes.
    async acquireLease(id) {
      get(id);
      return 1;
    },
    async releaseLease() {},
    async delete(id) {
      return conversations.delete(id);
    },
    async close() {},
  };
}
