import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../src/db/database.ts';
import { openDatabase } from '../src/db/database.ts';
import type { TestDatabase } from './helpers/postgres.ts';
import { createTestDatabase, dropTestDatabase, skipWithoutPostgres } from './helpers/postgres.ts';

const skipPostgres = await skipWithoutPostgres();

describe.skipIf(skipPostgres)('the PostgreSQL connection pool', () => {
  let database: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    database = await createTestDatabase();
    // Pool parameters in the URL mean nothing to a driver adapter; the service's own setting does.
    db = await openDatabase({
      url: `${database.url}?connection_limit=50&pool_timeout=1`,
      pgliteDir: '',
      poolSize: 2,
    });
  });
  afterAll(async () => {
    await db.close();
    await dropTestDatabase(database.name);
  });

  it('never opens more connections than DATABASE_POOL_SIZE, whatever the URL says', async () => {
    const queries = Array.from(
      { length: 30 },
      () =>
        db.prisma.$queryRaw<
          { pid: number }[]
        >`SELECT pg_backend_pid() AS pid, pg_sleep(0.05)::text`,
    );

    const pids = new Set((await Promise.all(queries)).map((rows) => rows[0]?.pid));

    expect(pids.size).toBeLessThanOrEqual(2);
    expect(pids.size).toBeGreaterThan(0);
  });

  it('answers every one of many concurrent queries, waiting for a free connection', async () => {
    const queries = Array.from(
      { length: 30 },
      (_, i) => db.prisma.$queryRaw<{ n: number }[]>`SELECT ${i}::int AS n`,
    );

    const answers = (await Promise.all(queries)).map((rows) => rows[0]?.n);

    expect(answers).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});
