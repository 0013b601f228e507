// Stored responses (`store`, default true): what GET /v1/responses/{id} returns, what previous_response_id
// continues and what an input item_reference names. In memory, per tenant, bounded: each tenant keeps its
// newest `maxResponses` responses within `maxBytes`, the oldest going first (so one tenant cannot push out
// another's). Another tenant's id is simply not there: 404, the same as an id that never existed.

import type { InputItem } from '../../upstream/responses-wire.ts';

export interface StoredResponse {
  /** The Response as the client got it. */
  response: Record<string, unknown>;
  /** The conversation up to and including this response: earlier items, this input, this output. */
  history: InputItem[];
}

export const responseStoreDefaults = { maxResponses: 1000, maxBytes: 64 * 1024 * 1024 } as const;

interface Entry extends StoredResponse {
  bytes: number;
  /** Ids of this response's output items, indexed for item_reference. */
  items: string[];
}

interface Shelf {
  entries: Map<string, Entry>;
  items: Map<string, InputItem>;
  bytes: number;
}

/** The store of responses, by tenant (the key's tenant; one shared tenant without keys). */
export function createResponseStore(limits: { maxResponses: number; maxBytes: number } = responseStoreDefaults) {
  const shelves = new Map<string, Shelf>();
  const shelfOf = (tenant: string): Shelf => {
    let shelf = shelves.get(tenant);
    if (!shelf) {
      shelf = { entries: new Map(), items: new Map(), bytes: 0 };
      shelves.set(tenant, shelf);
    }
    return shelf;
  };
  const drop = (shelf: Shelf, id: string) => {
    const entry = shelf.entries.get(id);
    if (!entry) return false;
    shelf.entries.delete(id);
    shelf.bytes -= entry.bytes;
    for (const item of entry.items) shelf.items.delete(item);
    return true;
  };

  return {
    put(tenant: string, id: string, stored: StoredResponse) {
      const shelf = shelfOf(tenant);
      drop(shelf, id);
      // Measured as JSON, the form it came in as: the history holds every earlier turn again, so a long chain
      // of previous_response_id costs quadratically and the byte bound is what keeps it in check.
      const bytes = JSON.stringify(stored.response).length + JSON.stringify(stored.history).length;
      if (bytes > limits.maxBytes) return;
      const output = Array.isArray(stored.response.output) ? (stored.response.output as InputItem[]) : [];
      const items = output.flatMap((item) => (typeof item.id === 'string' ? [item.id] : []));
      for (const item of output) if (typeof item.id === 'string') shelf.items.set(item.id, item);
      shelf.entries.set(id, { ...stored, bytes, items });
      shelf.bytes += bytes;
      for (const oldest of shelf.entries.keys()) {
        if (shelf.entries.size <= limits.maxResponses && shelf.bytes <= limits.maxBytes) break;
        drop(shelf, oldest);
      }
    },
    get(tenant: string, id: string): StoredResponse | undefined {
      return shelves.get(tenant)?.entries.get(id);
    },
    /** An output item of one of the tenant's stored responses. */
    item(tenant: string, id: string): InputItem | undefined {
      return shelves.get(tenant)?.items.get(id);
    },
    delete(tenant: string, id: string): boolean {
      const shelf = shelves.get(tenant);
      return shelf ? drop(shelf, id) : false;
    },
  };
}

export type ResponseStore = ReturnType<typeof createResponseStore>;
