// One real Postgres per test file and the gateways (runtimes) started on it, all closed by vitest's hooks:
// the setup every conversation-on-Postgres test file needs.

import { afterAll, afterEach, beforeAll } from 'vitest';
import { type Fleet, type FleetOptions, startFleet } from './fleet.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

export interface PostgresFleets {
  /** The file's Postgres server (started in beforeAll). */
  server(): TestPostgres;
  /** A fresh database's URL, named `<prefix>_<n>`. */
  database(): Promise<string>;
  /** A fleet on `store`, closed after the test. */
  start(options: FleetOptions, store: string): Promise<Fleet>;
  /** Two instances on one fresh database; the first one's mock answers after `latencyMs`. */
  twoInstances(latencyMs?: number): Promise<readonly [Fleet['runtime']['conversations'], Fleet['runtime']['conversations']]>;
}

export function postgresFleets(prefix: string): PostgresFleets {
  let server: TestPostgres | undefined;
  const fleets: Fleet[] = [];
  let databases = 0;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.destroy();
  });
  afterEach(async () => {
    for (const f of fleets.splice(0)) await f.close();
  });
  const started = (): TestPostgres => {
    if (!server) throw new Error('Postgres is not started: call postgresFleets() at the top of a test file');
    return server;
  };
  const start = async (options: FleetOptions, store: string) => {
    const fleet = await startFleet({ ...options, runtime: { ...options.runtime, store } });
    fleets.push(fleet);
    return fleet;
  };
  const database = () => started().createDatabase(`${prefix}_${++databases}`);
  return {
    server: started,
    database,
    start,
    async twoInstances(latencyMs = 0) {
      const url = await database();
      const a = await start({ mocks: [{ latencyMs }] }, url);
      const b = await start({ mocks: [{}] }, url);
      return [a.runtime.conversations, b.runtime.conversations] as const;
    },
  };
}
