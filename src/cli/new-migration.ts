/**
 * Writes the next migration from the difference between `prisma/migrations` and
 * `schema.prisma`, in Prisma's layout (`prisma/migrations/<timestamp>_<name>/migration.sql`).
 * It stands in for `prisma migrate dev --create-only`, with no native engine and no database:
 * the comparison runs on in-memory PGlite.
 *
 *   npm run migration:new -- add_webhook_deliveries
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { PGlite, PGliteAdapterFactory } from '../db/adapters.ts';
import { diffEmptyToSchema, diffMigrationsAgainstSchema, MIGRATIONS_DIR } from '../db/migrator.ts';

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error('usage: npm run migration:new -- <name in snake_case>');
  process.exit(2);
}

const pglite = new PGlite();
const factory = new PGliteAdapterFactory(pglite);
const lockFile = path.join(MIGRATIONS_DIR, 'migration_lock.toml');

let sql: string;
if (existsSync(lockFile)) {
  const diff = await diffMigrationsAgainstSchema(factory);
  if (!diff.drift) {
    console.log('schema.prisma and the migrations agree: nothing to write.');
    process.exit(0);
  }
  sql = diff.sql;
} else {
  await mkdir(MIGRATIONS_DIR, { recursive: true });
  await writeFile(
    lockFile,
    '# Written by npm run migration:new; keep it in version control.\nprovider = "postgresql"\n',
  );
  sql = await diffEmptyToSchema(factory);
}
await pglite.close();

const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
const dir = path.join(MIGRATIONS_DIR, `${stamp}_${name}`);
await mkdir(dir);
await writeFile(path.join(dir, 'migration.sql'), sql);
console.log(`wrote ${path.relative(process.cwd(), dir)}/migration.sql`);
