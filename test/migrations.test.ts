import { createHash, randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PGlite, PGliteAdapterFactory, pg, pgAdapterFactory } from '../src/db/adapters.ts';
import type { Database, DatabaseOptions } from '../src/db/database.ts';
import { openDatabase } from '../src/db/database.ts';
import {
  applyMigrations,
  diffMigrationsAgainstSchema,
  findPrismaDir,
  migrationsUpToDate,
  MIGRATIONS_DIR,
  SCHEMA_FILE,
} from '../src/db/migrator.ts';
import { productsInMemory } from '../src/csv/csv.spool.ts';
import { RequestRepository } from '../src/repositories/request.repository.ts';
import type { TestDatabase } from './helpers/postgres.ts';
import {
  adminQuery,
  createTestDatabase,
  dropTestDatabase,
  skipWithoutPostgres,
} from './helpers/postgres.ts';
import { resolveProcessingOptions } from '../src/services/processing-options.ts';

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

/** What `_prisma_migrations` should hold once every migration in the folder is applied. */
interface ExpectedRow {
  migration_name: string;
  checksum: string;
  finished: boolean;
}

const skipPostgres = await skipWithoutPostgres();
const migrationNames = (await readdir(MIGRATIONS_DIR, { withFileTypes: true }))
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const expectedRows: ExpectedRow[] = await Promise.all(
  migrationNames.map(async (name) => ({
    migration_name: name,
    checksum: createHash('sha256')
      .update(await readFile(path.join(MIGRATIONS_DIR, name, 'migration.sql')))
      .digest('hex'),
    finished: true,
  })),
);

const tempDirs: string[] = [];
const databases: TestDatabase[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'migrations-test-'));
  tempDirs.push(dir);
  return dir;
}

async function freshPostgres(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  databases.push(database);
  return database;
}

afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  await Promise.all(databases.map((db) => dropTestDatabase(db.name)));
});

async function readMigrationRows(db: Database): Promise<ExpectedRow[]> {
  const rows = await db.prisma.$queryRaw<MigrationRow[]>`
    SELECT migration_name, checksum, finished_at FROM _prisma_migrations ORDER BY migration_name`;
  return rows.map((row) => ({
    migration_name: row.migration_name,
    checksum: row.checksum,
    finished: row.finished_at !== null,
  }));
}

/** Which of the migration table and the `requests` table exist in a database. */
async function schemaTables(
  db: Database,
): Promise<{ migrations: string | null; requests: string | null }[]> {
  return db.prisma.$queryRaw`
    SELECT to_regclass('public._prisma_migrations')::text AS migrations,
           to_regclass('public.requests')::text AS requests`;
}

/** Opens a database without an `onMigrated` callback and reports which tables it has. */
async function openWithoutCallback(options: Omit<DatabaseOptions, 'onMigrated'>) {
  const db = await openDatabase(options);
  try {
    return await schemaTables(db);
  } finally {
    await db.close();
  }
}

const MIGRATED_TABLES = [{ migrations: '_prisma_migrations', requests: 'requests' }];

/** Opens a database, closes it, opens it again, and reads its migration table. */
async function openTwice(options: Omit<DatabaseOptions, 'onMigrated'>) {
  const applied: string[][] = [];
  const onMigrated = (names: string[]) => {
    applied.push(names);
  };

  const first = await openDatabase({ ...options, onMigrated });
  await first.close();
  const second = await openDatabase({ ...options, onMigrated });
  try {
    return { applied, rows: await readMigrationRows(second) };
  } finally {
    await second.close();
  }
}

function itAppliesEachMigrationOnce(
  result: () => { applied: string[][]; rows: ExpectedRow[] },
): void {
  it('applies the init migration on the first open and reports its name', () => {
    expect(result().applied[0]).toEqual(migrationNames);
    expect(migrationNames[0]).toMatch(/^\d{14}_init$/);
  });

  it('applies nothing on a second open', () => {
    expect(result().applied).toHaveLength(2);
    expect(result().applied[1]).toEqual([]);
  });

  it('records each migration once, finished, with the sha256 of its migration.sql', () => {
    expect(result().rows).toEqual(expectedRows);
  });
}

/** A copy of prisma/migrations with a second migration that fails after creating a table. */
async function migrationsWithBrokenSecond(): Promise<string> {
  const dir = await tempDir();
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  const broken = path.join(dir, '99991231235959_broken');
  await mkdir(broken);
  await writeFile(path.join(broken, 'migration.sql'), 'CREATE TABLE t1 (id int); SELECT 1/0;\n');
  return dir;
}

describe('schema.prisma and prisma/migrations', () => {
  let memory: PGlite;

  beforeAll(() => {
    memory = new PGlite();
  });
  afterAll(async () => {
    await memory.close();
  });

  it('agree: diffing the migrations against the schema finds no drift', async () => {
    const result = await diffMigrationsAgainstSchema(new PGliteAdapterFactory(memory));

    expect(result.drift).toBe(false);
  });

  it('disagree once the schema gains a field, and the diff is the ALTER TABLE to add it', async () => {
    const schema = await readFile(SCHEMA_FILE, 'utf8');
    const schemaFile = path.join(await tempDir(), 'schema.prisma');
    await writeFile(
      schemaFile,
      schema.replace('model Webhook {\n', 'model Webhook {\n  label String?\n'),
    );

    const result = await diffMigrationsAgainstSchema(new PGliteAdapterFactory(memory), {
      schemaFile,
    });

    expect(result.drift).toBe(true);
    expect(result.sql).toContain('ALTER TABLE');
    expect(result.sql).toContain('"label"');
  });
});

describe('openDatabase on a fresh PGlite directory', () => {
  let result: Awaited<ReturnType<typeof openTwice>>;

  beforeAll(async () => {
    result = await openTwice({ url: undefined, pgliteDir: await tempDir(), poolSize: 1 });
  });

  itAppliesEachMigrationOnce(() => result);

  it('applies the migrations when no onMigrated callback is given', async () => {
    const tables = await openWithoutCallback({
      url: undefined,
      pgliteDir: await tempDir(),
      poolSize: 1,
    });

    expect(tables).toEqual(MIGRATED_TABLES);
  });
});

describe.skipIf(skipPostgres)('openDatabase on a fresh PostgreSQL database', () => {
  let result: Awaited<ReturnType<typeof openTwice>>;

  beforeAll(async () => {
    const { url } = await freshPostgres();
    result = await openTwice({ url, pgliteDir: '', poolSize: 2 });
  });

  itAppliesEachMigrationOnce(() => result);

  it('applies the migrations when no onMigrated callback is given', async () => {
    const { url } = await freshPostgres();

    const tables = await openWithoutCallback({ url, pgliteDir: '', poolSize: 2 });

    expect(tables).toEqual(MIGRATED_TABLES);
  });

  it('applies each migration exactly once when four processes open one database together', async () => {
    const { url } = await freshPostgres();
    const applied: string[][] = [];
    const options: DatabaseOptions = {
      url,
      pgliteDir: '',
      poolSize: 2,
      onMigrated: (names) => {
        applied.push(names);
      },
    };

    // Each opener has pools of its own, as separate processes would.
    const opened = await Promise.allSettled(Array.from({ length: 4 }, () => openDatabase(options)));
    const dbs = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const rows = dbs[0] ? await readMigrationRows(dbs[0]) : [];
    await Promise.all(dbs.map((db) => db.close()));

    expect(opened.map((r) => r.status)).toEqual(Array(4).fill('fulfilled'));
    expect(applied.flat()).toEqual(migrationNames);
    expect(rows).toEqual(expectedRows);
  });
});

describe('where prisma/ is found from src/db or dist/src/db', () => {
  it('is the project root, also when the checkout sits under a directory called dist', async () => {
    const root = path.join(await tempDir(), 'dist', 'checkout');
    await mkdir(path.join(root, 'prisma'), { recursive: true });
    await writeFile(path.join(root, 'prisma', 'schema.prisma'), '');

    expect(findPrismaDir(path.join(root, 'src', 'db'))).toBe(path.join(root, 'prisma'));
    expect(findPrismaDir(path.join(root, 'dist', 'src', 'db'))).toBe(path.join(root, 'prisma'));
  });
});

describe('whether a start has migrations to apply', () => {
  let pglite: PGlite;
  let migrationsDir: string;
  const upToDate = () =>
    migrationsUpToDate(
      async (text) => (await pglite.query<Record<string, unknown>>(text)).rows,
      migrationsDir,
    );

  beforeAll(async () => {
    migrationsDir = path.join(await tempDir(), 'migrations');
    await cp(MIGRATIONS_DIR, migrationsDir, { recursive: true });
    pglite = new PGlite();
  });
  afterAll(async () => {
    await pglite.close();
  });

  // In order: each case starts from the database the one before left.
  it('is asked of a new database, which has no migration table: yes', async () => {
    expect(await upToDate()).toBe(false);
  });

  it('is asked once every migration is applied: none, so the schema engine is not loaded', async () => {
    await applyMigrations(new PGliteAdapterFactory(pglite), migrationsDir);
    expect(await upToDate()).toBe(true);
  });

  it('is asked once a migration is added to the folder: yes, and the engine applies it', async () => {
    const added = path.join(migrationsDir, '99991231235959_added');
    await mkdir(added);
    await writeFile(path.join(added, 'migration.sql'), 'CREATE TABLE added (id int);\n');
    expect(await upToDate()).toBe(false);

    expect(await applyMigrations(new PGliteAdapterFactory(pglite), migrationsDir)).toEqual([
      '99991231235959_added',
    ]);
    expect(await upToDate()).toBe(true);
  });

  it('is asked once an applied migration file is edited: yes, so the engine sees the change', async () => {
    const file = path.join(migrationsDir, '99991231235959_added', 'migration.sql');
    await writeFile(file, 'CREATE TABLE added (id bigint);\n');
    expect(await upToDate()).toBe(false);
    await writeFile(file, 'CREATE TABLE added (id int);\n');
    expect(await upToDate()).toBe(true);
  });

  it('is asked while a failed migration is recorded: yes, so the engine reports it', async () => {
    await pglite.query(
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ('failed-one', 'x', '99991231235960_failed', now(), 0)`,
    );
    expect(await upToDate()).toBe(false);
  });
});

describe('a migration that fails half-way', () => {
  let migrationsDir: string;

  beforeAll(async () => {
    migrationsDir = await migrationsWithBrokenSecond();
  });

  it('is reported and rolled back on PGlite, leaving no partial table', async () => {
    const pglite = new PGlite();

    try {
      const applying = applyMigrations(new PGliteAdapterFactory(pglite), migrationsDir);

      await expect(applying).rejects.toThrow(/99991231235959_broken/);
      const { rows } = await pglite.query<{ t1: string | null }>(
        "SELECT to_regclass('public.t1')::text AS t1",
      );
      expect(rows).toEqual([{ t1: null }]);
    } finally {
      await pglite.close();
    }
  });

  it.skipIf(skipPostgres)(
    'is reported and rolled back on PostgreSQL, leaving no partial table',
    async () => {
      const { url } = await freshPostgres();
      const pool = new pg.Pool({ connectionString: url, max: 1 });

      try {
        const applying = applyMigrations(pgAdapterFactory(pool), migrationsDir);

        await expect(applying).rejects.toThrow(/99991231235959_broken/);
        const { rows } = await pool.query<{ t1: string | null }>(
          "SELECT to_regclass('public.t1')::text AS t1",
        );
        expect(rows).toEqual([{ t1: null }]);
      } finally {
        await pool.end();
      }
    },
  );
});

describe.skipIf(skipPostgres)('timestamps on a PostgreSQL server in another time zone', () => {
  let db: Database;
  let closeDb = () => Promise.resolve();
  let requestId: string;
  let sessionTimeZone: string | undefined;

  beforeAll(async () => {
    const { name, url } = await freshPostgres();
    await adminQuery(`ALTER DATABASE ${name} SET timezone TO 'Asia/Kolkata'`);
    // A callback is passed so that this block does not hinge on the fault shown by the
    // "no onMigrated callback" tests above.
    db = await openDatabase({ url, pgliteDir: '', poolSize: 2, onMigrated: () => undefined });
    closeDb = () => db.close();

    requestId = randomUUID();
    await new RequestRepository(db.prisma, db.sql, db.transaction).create(
      {
        id: requestId,
        ownerId: 'alice',
        fileName: 'tz.csv',
        webhookUrl: null,
        options: resolveProcessingOptions(null, 50),
      },
      productsInMemory([]),
    );
    // What a client that does not pin its session (psql, a report tool) sees by default.
    const [setting] = await db.prisma.$queryRaw<{ tz: string | null }[]>`
      SELECT (SELECT unnest(setconfig) FROM pg_db_role_setting s JOIN pg_database d
              ON d.oid = s.setdatabase WHERE d.datname = current_database() LIMIT 1) AS tz`;
    sessionTimeZone = setting?.tz ?? undefined;
  });
  afterAll(async () => {
    await closeDb();
  });

  it("reads a new request's createdAt back as the current instant", async () => {
    const stored = await new RequestRepository(db.prisma, db.sql, db.transaction).findById(
      requestId,
    );

    expect(sessionTimeZone).toBe('TimeZone=Asia/Kolkata');
    expect(Math.abs((stored?.createdAt.getTime() ?? 0) - Date.now())).toBeLessThan(5_000);
  });

  it("stores a new request's created_at as the instant the database itself calls now", async () => {
    const [row] = await db.prisma.$queryRaw<{ age_seconds: number }[]>`
      SELECT extract(epoch FROM now() - created_at)::float8 AS age_seconds
      FROM requests WHERE id = ${requestId}::uuid`;

    expect(sessionTimeZone).toBe('TimeZone=Asia/Kolkata');
    expect(Math.abs(row?.age_seconds ?? Infinity)).toBeLessThan(5);
  });
});
