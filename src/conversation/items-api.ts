// OpenAI's Conversations API over the conversation store and actors: create (with items and metadata), read,
// metadata updates, and items listed, read, added and deleted. Reads come from the store and never activate an
// actor. A change takes the conversation's actor (and its write lease) in the gate, refuses while a turn runs
// (conversation_busy), writes, then stops the actor so that its next turn loads the window with the change.

import { SwitchyardError } from '../errors.ts';
import type { Encoding } from '../models/tokens.ts';
import type { ConversationStore, Metadata, StoredConversation, Strategy } from '../stores/types.ts';
import type { createActivation, Entry } from './activation.ts';
import { messageTokens } from './count.ts';
import type { createGate } from './gate.ts';
import { newId } from './ids.ts';
import { type ConversationItem, checkItems, type ItemInput, itemsOf, itemTexts, recordItemId, recordsOf } from './items.ts';
import type { createQuotas } from './quotas.ts';
import { type ConversationScope, type ConversationView, type CreateConversation, viewOf } from './types.ts';

export interface ItemsApiDeps {
  store: ConversationStore;
  actors: ReturnType<typeof createActivation>;
  gate: ReturnType<typeof createGate>;
  quotas: ReturnType<typeof createQuotas>;
  /** A served logical model's encoding; throws model_not_found for any other. */
  encodingOf(model: string): Encoding;
  /** The model of a conversation created without one: the first logical model of the config. */
  defaultModel(): string;
  /** The strategy of a conversation created without one: read at each create (a reload may change it). */
  defaultStrategy: () => Strategy;
  now(): number;
}

export interface ListOptions {
  /** An item id: the page starts after it. */
  after?: string | undefined;
  /** 1 to 100, default 20. */
  limit?: number | undefined;
  /** Default `desc` (newest first), as OpenAI's. */
  order?: 'asc' | 'desc' | undefined;
}

export interface ItemPage {
  data: ConversationItem[];
  firstId: string | null;
  lastId: string | null;
  hasMore: boolean;
}

/** OpenAI's metadata limits: 16 pairs, keys up to 64 characters, values up to 512. */
export const metadataLimits = { keys: 16, keyChars: 64, valueChars: 512 } as const;

/** Refuses metadata beyond OpenAI's limits with invalid_request on `metadata` (the same answer OpenAI gives). */
export function checkMetadata(metadata: unknown): Metadata {
  const bad = (why: string) => new SwitchyardError('invalid_request', `metadata: ${why}`, { param: 'metadata' });
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw bad('must be an object of strings');
  const entries = Object.entries(metadata);
  if (entries.length > metadataLimits.keys) throw bad(`at most ${metadataLimits.keys} keys, got ${entries.length}`);
  for (const [key, value] of entries) {
    if (key.length > metadataLimits.keyChars) throw bad(`keys have at most ${metadataLimits.keyChars} characters`);
    if (typeof value !== 'string') throw bad(`the value of "${key.slice(0, 64)}" must be a string`);
    if (value.length > metadataLimits.valueChars) throw bad(`values have at most ${metadataLimits.valueChars} characters`);
  }
  return Object.fromEntries(entries) as Metadata;
}

export const notFound = (id: string) => new SwitchyardError('conversation_not_found', `no conversation "${id}"`);
const itemNotFound = (itemId: string) =>
  new SwitchyardError('conversation_item_not_found', `no item "${itemId.slice(0, 128)}" in this conversation`);
/** Whether a call scoped to `scope` may see a conversation of `owner`: another tenant's looks like none at all. */
export const visible = (owner: string | null | undefined, scope: ConversationScope) => scope.tenant === undefined || owner === scope.tenant;

export function createItemsApi(deps: ItemsApiDeps) {
  const { store, actors, gate, quotas } = deps;

  async function load(id: string, scope: ConversationScope): Promise<StoredConversation> {
    const stored = await store.load(id);
    if (!stored || !visible(stored.conversation.tenant, scope)) throw notFound(id);
    return stored;
  }

  const quiet = (entry: Entry) => {
    const snapshot = entry.actor.getSnapshot();
    return snapshot.value === 'idle' && snapshot.context.queue.length === 0 && !snapshot.context.current && entry.claims === 1;
  };

  /** Changes a conversation between turns, under its lease; its actor reloads before the next turn. */
  async function edit<T>(id: string, scope: ConversationScope, change: (stored: StoredConversation, entry: Entry) => Promise<T>) {
    return gate.run(id, async () => {
      const entry = await actors.claim(id);
      let changed = false;
      try {
        if (!visible(entry.tenant, scope)) throw notFound(id);
        if (!quiet(entry)) throw new SwitchyardError('conversation_busy', `conversation "${id}" is answering a turn: change it after`);
        const stored = await store.load(id);
        if (!stored) throw notFound(id);
        const result = await change(stored, entry);
        changed = true;
        return result;
      } finally {
        await actors.unclaim(id, entry);
        if (changed) actors.remove(id);
        else actors.scheduleIdle(id);
      }
    });
  }

  const nextSeq = (stored: StoredConversation) =>
    stored.messages.reduce((n, m) => Math.max(n, m.seq + 1), (stored.conversation.summary?.throughSeq ?? -1) + 1);

  /** The stored message holding an item, by the item's id. */
  function holder(stored: StoredConversation, itemId: string) {
    const found = stored.messages.find((m) => itemsOf(m).some((item) => item.id === itemId) || recordItemId(m) === itemId);
    if (!found) throw itemNotFound(itemId);
    return found;
  }

  function need<K extends 'appendMessages' | 'setMetadata' | 'deleteMessage'>(name: K): NonNullable<ConversationStore[K]> {
    const method = store[name];
    if (!method)
      throw new SwitchyardError('invalid_config', `the conversation store has no ${name}: it cannot serve the Conversations API`);
    return method.bind(store) as NonNullable<ConversationStore[K]>;
  }

  return {
    /** Creates a conversation; with items, they are stored as its first (answered) messages. */
    async create(input: CreateConversation): Promise<{ id: string; createdAt: number }> {
      const model = input.model ?? deps.defaultModel();
      const encoding = deps.encodingOf(model);
      const metadata = input.metadata == null ? null : checkMetadata(input.metadata);
      const items = checkItems(input.items ?? []);
      for (const text of itemTexts(items)) quotas.checkMessage(text);
      const createdAt = deps.now();
      const records = recordsOf(items, { seq: 0, encoding, now: createdAt });
      const id = newId('conv');
      const system = input.system ?? null;
      const tenant = input.tenant ?? null;
      const systemTokens = system === null ? 0 : messageTokens({ role: 'system', content: system }, encoding);
      await quotas.checkCreate(tenant, systemTokens);
      const append = records.length > 0 ? need('appendMessages') : undefined;
      await store.create({
        id,
        model,
        system,
        systemTokens,
        strategy: input.strategy ?? deps.defaultStrategy(),
        createdAt,
        summary: null,
        tenant,
        metadata,
      });
      if (append) {
        try {
          // The conversation is new: no instance holds its lease, so the write passes the fence.
          await append(id, records);
        } catch (err) {
          await store.delete(id).catch(() => {});
          throw err;
        }
      }
      return { id, createdAt };
    },

    async get(id: string, scope: ConversationScope = {}): Promise<ConversationView> {
      return viewOf(await load(id, scope));
    },

    /** Replaces the metadata (null or {} clears it). */
    async setMetadata(id: string, metadata: Metadata | null, scope: ConversationScope = {}): Promise<ConversationView> {
      const checked = metadata === null ? null : checkMetadata(metadata);
      const setMetadata = need('setMetadata');
      await edit(id, scope, () => setMetadata(id, checked));
      return viewOf(await load(id, scope));
    },

    /** A page of the conversation's items, every stored message included (those folded into a summary too). */
    async listItems(id: string, options: ListOptions = {}, scope: ConversationScope = {}): Promise<ItemPage> {
      const stored = await load(id, scope);
      const all = stored.messages.flatMap(itemsOf);
      if (options.order !== 'asc') all.reverse();
      let start = 0;
      if (options.after !== undefined) {
        const at = all.findIndex((item) => item.id === options.after);
        if (at < 0) throw itemNotFound(options.after);
        start = at + 1;
      }
      const limit = Math.min(Math.max(options.limit ?? 20, 1), 100);
      const data = all.slice(start, start + limit);
      return { data, firstId: data[0]?.id ?? null, lastId: data.at(-1)?.id ?? null, hasMore: start + limit < all.length };
    },

    async getItem(id: string, itemId: string, scope: ConversationScope = {}): Promise<ConversationItem> {
      const stored = await load(id, scope);
      const item = stored.messages.flatMap(itemsOf).find((i) => i.id === itemId);
      if (!item) throw itemNotFound(itemId);
      return item;
    },

    /** Adds items after the last message; they count in the window from the next turn on. */
    async addItems(id: string, added: readonly ItemInput[], scope: ConversationScope = {}): Promise<ConversationItem[]> {
      const items = checkItems(added);
      for (const text of itemTexts(items)) quotas.checkMessage(text);
      const append = need('appendMessages');
      return edit(id, scope, async (stored, entry) => {
        const records = recordsOf(items, { seq: nextSeq(stored), encoding: entry.encoding, now: deps.now() });
        await append(id, records);
        return records.flatMap(itemsOf);
      });
    },

    /**
     * Deletes the stored message holding an item: an assistant message goes with its function calls. A call left
     * without its result (or the reverse) is left out of later prompts.
     */
    async deleteItem(id: string, itemId: string, scope: ConversationScope = {}): Promise<ConversationView> {
      const remove = need('deleteMessage');
      await edit(id, scope, async (stored) => {
        const message = holder(stored, itemId);
        if (!(await remove(id, message.seq))) throw itemNotFound(itemId);
      });
      return viewOf(await load(id, scope));
    },
  };
}
