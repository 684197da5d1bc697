import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';

import { openSchemaEngine } from './schema-engine.ts';

/**
 * `prisma/` at the project root, found from this file in `src/db` or `dist/src/db`: the build
 * does not copy `prisma/` into `dist/`, so the first of the two places that holds it. (Not by
 * the path's names: a checkout may itself sit under a directory called `dist`.)
 */
export function findPrismaDir(here = path.dirname(fileURLToPath(import.meta.url))): string {
  const fromSources = path.resolve(here, '../..', 'prisma');
  return existsSync(path.join(fromSources, 'schema.prisma'))
    ? fromSources
    : path.resolve(here, '../../..', 'prisma');
}

export const PRISMA_DIR = findPrismaDir();
export const MIGRATIONS_DIR = path.join(PRISMA_DIR, 'migrations');
export const SCHEMA_FILE = path.join(PRISMA_DIR, 'schema.prisma');

const NO_FILTERS = { externalTables: [], externalEnums: [] };

/** The migrations folder in the shape the schema engine reads it. */
export async function readMigrations(dir = MIGRATIONS_DIR) {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const migrationDirectories = await Promise.all(
    names.map(async (name) => ({
      path: name,
      migrationFile: {
        path: 'migration.sql',
        content: {
          tag: 'ok' as const,
          value: await readFile(path.join(dir, name, 'migration.sql'), 'utf8'),
        },
      },
    })),
  );
  const lockContent = await readFile(path.join(dir, 'migration_lock.toml'), 'utf8');

  return {
    baseDir: dir,
    lockfile: { path: 'migration_lock.toml', content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

/** One statement on the database being migrated, resolving with its rows. */
export type MigrationQuery = (text: string) => Promise<Record<string, unknown>[]>;

/**
 * Whether `_prisma_migrations` records every migration in `dir` as applied, with the checksum
 * (sha256 of its `migration.sql`) Prisma recorded, and no migration as failed. Then the schema
 * engine has nothing to do, and a start need not load it: its WebAssembly module adds 20 to
 * 40 MB to the process for good. Whenever anything differs (no table yet, a new migration, an
 * edited one, a failed one), the answer is false and the engine decides, as
 * `prisma migrate deploy` would.
 */
export async function migrationsUpToDate(
  query: MigrationQuery,
  dir = MIGRATIONS_DIR,
): Promise<boolean> {
  const [table] = await query(`SELECT to_regclass('_prisma_migrations') IS NOT NULL AS "present"`);
  if (table?.present !== true) return false;

  const rows = await query(
    `SELECT migration_name AS "name", checksum,
            finished_at IS NOT NULL AS "finished", rolled_back_at IS NOT NULL AS "rolledBack"
     FROM _prisma_migrations`,
  );
  if (rows.some((row) => row.finished !== true && row.rolledBack !== true)) return false;
  const applied = new Map(
    rows
      .filter((row) => row.finished === true && row.rolledBack !== true)
      .map((row) => [row.name, row.checksum]),
  );
  const { migrationDirectories } = await readMigrations(dir);
  return migrationDirectories.every(
    (migration) =>
      applied.get(migration.path) ===
      createHash('sha256').update(migration.migrationFile.content.value).digest('hex'),
  );
}

/**
 * Applies every migration in `prisma/migrations` not yet recorded in `_prisma_migrations`, as
 * `prisma migrate deploy` does. On PostgreSQL the engine holds an advisory lock meanwhile, so
 * processes starting together apply each migration once.
 *
 * @returns the names of the migrations applied by this call
 * @throws the engine's error (with a Prisma code such as P3009) when a migration fails
 */
export async function applyMigrations(
  factory: SqlMigrationAwareDriverAdapterFactory,
  dir = MIGRATIONS_DIR,
): Promise<string[]> {
  const migrationsList = await readMigrations(dir);
  const engine = await openSchemaEngine(factory);
  try {
    const result = await engine.applyMigrations({ migrationsList, filters: NO_FILTERS });
    return result.appliedMigrationNames;
  } finally {
    engine.free();
  }
}

/**
 * Brings the database up to date with the migrations in `dir`: at once when
 * {@link migrationsUpToDate} finds nothing to do, through {@link applyMigrations} otherwise.
 *
 * @returns the names of the migrations applied by this call
 */
export async function migrateDatabase(
  query: MigrationQuery,
  factory: SqlMigrationAwareDriverAdapterFactory,
  dir = MIGRATIONS_DIR,
): Promise<string[]> {
  if (await migrationsUpToDate(query, dir)) return [];
  return applyMigrations(factory, dir);
}

/**
 * Compares the migrations with `schema.prisma` on a shadow database from `factory`.
 *
 * @returns `drift: false` when they agree; otherwise the SQL of the migration still missing
 */
export async function diffMigrationsAgainstSchema(
  factory: SqlMigrationAwareDriverAdapterFactory,
  options: { migrationsDir?: string; schemaFile?: string } = {},
): Promise<{ drift: boolean; sql: string }> {
  const migrationsList = await readMigrations(options.migrationsDir ?? MIGRATIONS_DIR);
  const schemaText = await readFile(options.schemaFile ?? SCHEMA_FILE, 'utf8');
  const engine = await openSchemaEngine(factory, schemaText);
  try {
    const result = await engine.diff({
      from: { tag: 'migrations', ...migrationsList },
      to: { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: schemaText }] },
      script: true,
      exitCode: true,
      filters: NO_FILTERS,
    });
    return { drift: result.exitCode !== 0, sql: result.stdout ?? '' };
  } finally {
    engine.free();
  }
}

/** SQL that creates the whole schema from nothing, for the first migration. */
export async function diffEmptyToSchema(
  factory: SqlMigrationAwareDriverAdapterFactory,
  schemaFile = SCHEMA_FILE,
): Promise<string> {
  const schemaText = await readFile(schemaFile, 'utf8');
  const engine = await openSchemaEngine(factory, schemaText);
  try {
    const result = await engine.diff({
      from: { tag: 'empty' },
      to: { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: schemaText }] },
      script: true,
      exitCode: null,
      filters: NO_FILTERS,
    });
    return result.stdout ?? '';
  } finally {
    engine.free();
  }
}
