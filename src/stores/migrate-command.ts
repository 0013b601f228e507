// `switchyard migrate --store postgres://…`: applies the Postgres store's migrations ahead of a deploy (for
// operators who run the gateway with `?migrate=false` and a role that may not change the schema).

import { SwitchyardError } from '../errors.ts';
import { isPostgresSpec, postgresSpec } from './index.ts';
import { openPool } from './postgres.ts';
import { latestVersion, runMigrations } from './postgres-migrations.ts';

/** Applies what the database lacks and says what it did; rejects on anything else than a Postgres URL. */
export async function migrateCommand(store: string | undefined, print: (line: string) => void): Promise<void> {
  if (store === undefined || !isPostgresSpec(store))
    throw new SwitchyardError(
      'invalid_config',
      '--store: migrate needs a postgres:// URL (a SQLite store migrates itself when it opens; memory has no schema)',
      { param: 'store' },
    );
  const pool = await openPool(postgresSpec(store).url, { poolSize: 1 });
  try {
    const applied = await runMigrations(pool);
    print(
      applied.length === 0
        ? `schema already at version ${latestVersion}: nothing to apply`
        : `applied migration${applied.length > 1 ? 's' : ''} ${applied.join(', ')}: schema at version ${latestVersion}`,
    );
  } finally {
    await pool.end();
  }
}
