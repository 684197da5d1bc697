import { PrismaClient } from '../generated/prisma/client.ts';
import { PGlite, PGliteAdapterFactory, pg, pgAdapterFactory } from './adapters.ts';
import { migrateDatabase } from './migrator.ts';
import { ensurePGliteCluster } from './pglite-cluster.ts';
import { PGlitePreparedStatements } from './prepared-statements.ts';

/**
 * Runs one parameterised statement (`$1`, `$2`, …) on the driver itself, not through Prisma's
 * query engine, and resolves with its rows. Meant for the few statements run for every image:
 * there the engine's own work (about 1 ms a statement on PGlite, on the thread that runs
 * everything else) costs as much as the statement. On PGlite each text is also prepared once
 * (parsed and planned), since PGlite would plan it again on that thread at every call. Each
 * parameter is cast in the text (`$1::uuid`). Values come back as the driver reads them:
 * `int4` as number, `uuid` and `text` as string, `jsonb` parsed, `timestamptz` as Date.
 */
export type SqlRunner = <T>(text: string, params: readonly unknown[]) => Promise<T[]>;

/**
 * Runs `work` in one transaction on the driver itself, with a {@link SqlRunner} bound to that
 * transaction: committed when `work` resolves, rolled back when it rejects. For bulk writes:
 * Prisma's client keeps the arguments of its last hundred statements for its debug output
 * whether or not debugging is on, so a statement carrying thousands of values through Prisma
 * stays in memory long after it ran.
 */
export type TransactionRunner = <T>(work: (sql: SqlRunner) => Promise<T>) => Promise<T>;

/** An open database: the Prisma client and what the service needs around it. */
export interface Database {
  prisma: PrismaClient;
  /** The driver beneath `prisma`, for the per-image statements (see {@link SqlRunner}). */
  sql: SqlRunner;
  /** A transaction on the driver beneath `prisma` (see {@link TransactionRunner}). */
  transaction: TransactionRunner;
  kind: 'pglite' | 'postgresql';
  /** Resolves when the database answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** `postgresql://…`; unset opens embedded PGlite in `pgliteDir`. */
  url: string | undefined;
  pgliteDir: string;
  /** Connections in the PostgreSQL pool of this process. */
  poolSize: number;
  /**
   * Milliseconds a query waits for a free PostgreSQL connection before it fails, so a pool held
   * by slow work makes callers fail fast rather than queue without end.
   *
   * @defaultValue 10 000
   */
  connectTimeoutMs?: number;
  /** Called when a new embedded database was made in `pgliteDir`, with the milliseconds it took. */
  onCreated?: (ms: number) => void;
  /** Called with the names of migrations applied at open. */
  onMigrated?: (applied: string[]) => void;
}

/** How long a query waits for a free PostgreSQL connection, unless `connectTimeoutMs` says. */
const CONNECT_TIMEOUT_MS = 10_000;
/** P1002: another process holds the migration lock longer than the engine waits. */
const MIGRATION_LOCK_RETRIES = 5;

/**
 * Opens the database and brings its schema up to date with `prisma/migrations`.
 *
 * @throws when the database cannot be reached or a migration fails; the caller stops the process
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url ? openPostgres(options.url, options) : openPGlite(options);
}

async function openPGlite(options: DatabaseOptions): Promise<Database> {
  const started = performance.now();
  // A new database comes with the migrations applied, by the child process that made it.
  const appliedAtCreation = await ensurePGliteCluster(options.pgliteDir);
  if (appliedAtCreation) options.onCreated?.(Math.round(performance.now() - started));
  const pglite = await PGlite.create({
    dataDir: options.pgliteDir,
    // PostgreSQL's default 128 MB of shared buffers lives in the WebAssembly heap and is never
    // given back; the embedded shape serves one process, so a smaller cache is plenty.
    startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'],
  });
  const factory = new PGliteAdapterFactory(pglite);

  const applied = await migrateDatabase(
    async (text) => (await pglite.query<Record<string, unknown>>(text)).rows,
    factory,
  );
  options.onMigrated?.([...(appliedAtCreation ?? []), ...applied]);

  const prisma = new PrismaClient({ adapter: factory });
  const statements = new PGlitePreparedStatements(pglite);
  let transactions = 0;
  return {
    prisma,
    sql: (text, params) => statements.run(text, params),
    transaction: async (work) => {
      transactions += 1;
      try {
        return await pglite.transaction((tx) =>
          work(async <T>(text: string, params: readonly unknown[]) => {
            return (await tx.query<T>(text, [...params])).rows;
          }),
        );
      } finally {
        transactions -= 1;
      }
    },
    kind: 'pglite',
    ping: async () => {
      // PGlite runs one statement at a time: while a transaction of ours holds it (a large
      // upload's, for seconds) a ping would wait behind it and read as down, yet the database
      // is answering that transaction.
      if (transactions > 0) return;
      await pglite.query('SELECT 1');
    },
    close: async () => {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  await migratePostgres(url, options);

  // The pool is the adapter's: URL parameters such as connection_limit mean nothing to it.
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    // adapter-pg writes and reads timestamps as if the session were in UTC; pin it so, whatever
    // the server's own time zone.
    options: '-c TimeZone=UTC',
  });
  // An idle client that loses its server emits here; the pool replaces it on next use.
  pool.on('error', () => undefined);
  const prisma = new PrismaClient({ adapter: pgAdapterFactory(pool) });
  return {
    prisma,
    // Unnamed statements: named ones would break behind a pooler in transaction mode (PgBouncer
    // before 1.21), and PostgreSQL plans these on its own CPU, not on this process's thread.
    sql: async <T>(text: string, params: readonly unknown[]) =>
      (await pool.query(text, [...params])).rows as T[],
    transaction: (work) => inPostgresTransaction(pool, work),
    kind: 'postgresql',
    ping: async () => {
      await pool.query('SELECT 1');
    },
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function inPostgresTransaction<T>(
  pool: pg.Pool,
  work: (sql: SqlRunner) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // An object, not a `let`: the listener and the catch below both set it.
  const connection = { broken: false };
  // A checked-out client has no listener of the pool's: a connection that dies meanwhile (the
  // server restarts, an administrator ends the backend) would emit an 'error' nobody handles,
  // and that ends the process. Here it only marks the client broken; the statement that was
  // running fails on its own.
  const onError = () => {
    connection.broken = true;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(
      async <R>(text: string, params: readonly unknown[]) =>
        (await client.query(text, [...params])).rows as R[],
    );
    await client.query('COMMIT');
    return result;
  } catch (error: unknown) {
    // A connection that cannot even roll back is dropped rather than handed to the next caller.
    await client.query('ROLLBACK').catch(() => (connection.broken = true));
    throw error;
  } finally {
    // A dropped client keeps the listener: it may still report its end after release.
    if (!connection.broken) client.off('error', onError);
    client.release(connection.broken);
  }
}

/** Migrates on a pool of its own, ended at once so the advisory lock is released. */
async function migratePostgres(url: string, options: DatabaseOptions): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const pool = new pg.Pool({
      connectionString: url,
      max: 1,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    try {
      const applied = await migrateDatabase(
        async (text) => (await pool.query<Record<string, unknown>>(text)).rows,
        pgAdapterFactory(pool),
      );
      options.onMigrated?.(applied);
      return;
    } catch (error: unknown) {
      const lockBusy = (error as { code?: string }).code === 'P1002';
      if (!lockBusy || attempt >= MIGRATION_LOCK_RETRIES) throw error;
    } finally {
      await pool.end();
    }
  }
}
