// Opens a conversation store from its spec: `memory`, `sqlite:<path>`, or `postgres://…` (`postgresql://…`).

import { SwitchyardError } from '../errors.ts';
import { createMemoryStore } from './memory.ts';
import { createPostgresStore } from './postgres.ts';
import { createSqliteStore } from './sqlite.ts';
import type { ConversationStore } from './types.ts';

/** Whether a store spec names a Postgres database. */
export const isPostgresSpec = (spec: string) => /^postgres(ql)?:\/\//.test(spec);

export function openStore(spec: string): ConversationStore {
  if (spec === 'memory') return createMemoryStore();
  if (spec.startsWith('sqlite:') && spec.length > 'sqlite:'.length) return createSqliteStore(spec.slice('sqlite:'.length));
  if (isPostgresSpec(spec)) {
    const { url, migrate } = postgresSpec(spec);
    // Sync like the others: the pool (and `pg`) opens with the first call, which waits for the migrations.
    return createPostgresStore(url, { migrate });
  }
  throw new SwitchyardError('invalid_config', `store: expected "memory", "sqlite:<path>" or "postgres://…", got "${spec}"`, {
    param: 'store',
  });
}

/**
 * A Postgres URL and whether the gateway applies migrations itself: `?migrate=false` leaves them to
 * `switchyard migrate` (run with a role that may change the schema) and only checks they ran.
 */
export function postgresSpec(spec: string): { url: string; migrate: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(spec);
  } catch (cause) {
    throw new SwitchyardError('invalid_config', 'store: not a valid postgres:// URL', { param: 'store', cause });
  }
  const flag = parsed.searchParams.get('migrate');
  if (flag !== null && flag !== 'true' && flag !== 'false')
    throw new SwitchyardError('invalid_config', `store: migrate must be true or false, got "${flag}"`, { param: 'store' });
  parsed.searchParams.delete('migrate');
  return { url: parsed.toString(), migrate: flag !== 'false' };
}
