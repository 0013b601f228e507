// Opens a conversation store from its spec: `memory`, or `sqlite:<path>`.

import { SwitchyardError } from '../errors.ts';
import { createMemoryStore } from './memory.ts';
import { createSqliteStore } from './sqlite.ts';
import type { ConversationStore } from './types.ts';

export function openStore(spec: string): ConversationStore {
  if (spec === 'memory') return createMemoryStore();
  if (spec.startsWith('sqlite:') && spec.length > 'sqlite:'.length) return createSqliteStore(spec.slice('sqlite:'.length));
  throw new SwitchyardError('invalid_config', `store: expected "memory" or "sqlite:<path>", got "${spec}"`, { param: 'store' });
}
