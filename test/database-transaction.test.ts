import { setTimeout as delay } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../src/db/database.ts';
import { openDatabase } from '../src/db/database.ts';
import { openTempPGlite } from './helpers/pglite.ts';
import type { TestDatabase } from './helpers/postgres.ts';
import { createTestDatabase, dropTestDatabase, skipWithoutPostgres } from './helpers/postgres.ts';
import { deferred, within } from './helpers/ws.ts';

/**
 * `Database.transaction`, the driver-level transaction that stores an upload, on both
 * databases: what it leaves behind when it fails, and what it does to everything else meanwhile.
 */

const skipPostgres = await skipWithoutPostgres();

describe.skipIf(skipPostgres)(
  'a transaction on PostgreSQL whose connection the server ends',
  () => {
    let database: TestDatabase;
    let db: Database;

    beforeAll(async () => {
      database = await createTestDatabase();
      db = await openDatabase({ url: database.url, pgliteDir: '', poolSize: 2 });
      await db.sql('CREATE TABLE stored (id int)', []);
    });
    afterAll(async () => {
      await db.close();
      await dropTestDatabase(database.name);
    });

    // The client's 'error' event, with no listener, used to end the whole process.
    it('rejects, stores nothing, and the process and its pool carry on', async () => {
      const failed = db.transaction(async (sql) => {
        await sql('INSERT INTO stored VALUES (1)', []);
        const [backend] = await sql<{ pid: number }>('SELECT pg_backend_pid() AS pid', []);
        await db.sql('SELECT pg_terminate_backend($1::int)', [backend?.pid]);
        await delay(200); // the end reaches the client as an event before the next statement
        await sql('INSERT INTO stored VALUES (2)', []);
      });

      await expect(failed).rejects.toThrow();
      await delay(200);
      const rows = await db.sql<{ n: number }>('SELECT count(*)::int AS n FROM stored', []);
      const again = await db.transaction((sql) => sql<{ one: number }>('SELECT 1 AS one', []));

      expect(rows).toEqual([{ n: 0 }]);
      expect(again).toEqual([{ one: 1 }]);
    });
  },
);

describe('the embedded database while a transaction holds it', () => {
  let db: Database;
  let close = () => Promise.resolve();

  beforeAll(async () => {
    ({ db, close } = await openTempPGlite('database-transaction'));
  });
  afterAll(() => close());

  // PGlite runs one statement at a time; a large upload's transaction holds it for seconds, and
  // /readyz used to report the database down meanwhile.
  it('answers a ping at once, so readiness does not report it down', async () => {
    const release = deferred<undefined>();
    const holding = db.transaction(async (sql) => {
      await sql('SELECT 1', []);
      await release.promise;
    });

    await expect(within(db.ping(), 1_000, 'the ping')).resolves.toBeUndefined();
    release.resolve(undefined);
    await holding;
  });
});
