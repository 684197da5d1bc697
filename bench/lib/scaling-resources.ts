import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { Redis } from 'ioredis';
import pg from 'pg';

/** A run's own database, queue prefix and data directory, and how to remove them. */
export interface RunResources {
  databaseUrl: string;
  /** Connected to the run's database, for the bench's own reads. */
  client: pg.Client;
  queuePrefix: string;
  /** The DATA_DIR every process of the run shares: workers write files, the API serves them. */
  dataDir: string;
  release(): Promise<void>;
}

const SAFE_NAME = /^[a-z0-9_]+$/;

async function onServer<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function deleteKeysUnder(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectionName: 'bench' });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * Makes the database `name` on the server `serverUrl` reaches (CREATE DATABASE, so the URL's
 * user needs that right).
 *
 * @returns its URL, and how to drop it
 */
export async function freshDatabase(
  serverUrl: string,
  name: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!SAFE_NAME.test(name)) throw new Error(`Not a database name: ${name}`);
  await onServer(serverUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await onServer(serverUrl, (admin) =>
        admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      );
    },
  };
}

/**
 * Makes a fresh database on the server `databaseUrl` reaches (CREATE DATABASE, so the URL's user
 * needs that right), a Redis key prefix and a data directory for one run, so a run never resumes
 * or counts another's work. `release` drops and deletes them all.
 *
 * @param run - the run's tag: lower-case letters, digits and `_`
 */
export async function runResources(
  databaseUrl: string,
  redisUrl: string,
  run: string,
): Promise<RunResources> {
  const database = await freshDatabase(databaseUrl, `bench_scaling_${process.pid}_${run}`);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const queuePrefix = `bench-scaling-${process.pid}-${run}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'image-pipeline-bench-scaling-'));

  return {
    databaseUrl: database.url,
    client,
    queuePrefix,
    dataDir,
    release: async () => {
      await client.end();
      await database.drop();
      await deleteKeysUnder(redisUrl, queuePrefix);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
