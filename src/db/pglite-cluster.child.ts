/**
 * The program of the short-lived child process that `ensurePGliteCluster` starts: makes a
 * PGlite database in the directory given (PostgreSQL's initdb) and applies the migrations to
 * it, then writes the names of the migrations applied, as a JSON array, to standard output and
 * exits 0. On failure it writes the reason to standard error and exits 1.
 *
 * Its standard input is a pipe from the service: when that ends, the service has gone, and the
 * child stops rather than finish a database nobody will move into place.
 */
import { PGlite, PGliteAdapterFactory } from './adapters.ts';
import { applyMigrations } from './migrator.ts';

process.stdin.on('end', () => process.exit(1)).resume();

const dir = process.argv[2];
try {
  if (!dir) throw new Error('Name the directory to create the database in');
  const pglite = await PGlite.create({ dataDir: dir });
  const applied = await applyMigrations(new PGliteAdapterFactory(pglite));
  await pglite.close();
  process.stdout.write(JSON.stringify(applied), () => process.exit(0));
} catch (error: unknown) {
  process.stderr.write(error instanceof Error ? error.message : String(error), () =>
    process.exit(1),
  );
}
