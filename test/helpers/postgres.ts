import { randomUUID } from 'node:crypto';

import pg from 'pg';

/** The server PostgreSQL tests use; each test file makes its own databases on it. */
export const pgUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

const CONNECT_TIMEOUT_MS = 2_000;
const SAFE_NAME = /^[a-z_][a-z0-9_]*$/;

/** A database made for one test file, and the URL that reaches it. */
export interface TestDatabase {
  name: string;
  url: string;
}

/** `url` with any password removed, fit for a log line. */
export function redactUrl(url = pgUrl): string {
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.toString();
}

/** Resolves true when the server at `url` accepts a connection within 2 s. */
export async function postgresAvailable(url = pgUrl): Promise<boolean> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Whether the PostgreSQL tests of a file should be skipped: only when the server is unreachable
 * and `CI` is not `true`, and then with a warning that says how to run them. In CI they run and
 * fail, since CI must skip nothing.
 */
export async function skipWithoutPostgres(): Promise<boolean> {
  if (await postgresAvailable()) return false;
  if (process.env.CI === 'true') return false;

  console.warn(`skipped: PostgreSQL not reachable at ${redactUrl()} (set TEST_DATABASE_URL)`);
  return true;
}

async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: pgUrl,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  try {
    await client.connect();
  } catch (error: unknown) {
    throw new Error(`PostgreSQL not reachable at ${redactUrl()} (set TEST_DATABASE_URL)`, {
      cause: error,
    });
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Runs one statement on the server's own database, e.g. `ALTER DATABASE` on a test database. */
export async function adminQuery(sql: string): Promise<void> {
  await withAdminClient((client) => client.query(sql));
}

/** Creates an empty database with a unique name on the test server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `test_${process.pid}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await adminQuery(`CREATE DATABASE ${name}`);

  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/** Drops a database made by `createTestDatabase`, closing any connection left open to it. */
export async function dropTestDatabase(name: string): Promise<void> {
  if (!SAFE_NAME.test(name)) throw new Error(`not a test database name: ${name}`);
  await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}
