/**
 * The service shape a bench measures. With `DATABASE_URL` and `REDIS_URL` unset it is the
 * embedded one (PGlite, in-process queue and events); set in the bench's environment, every
 * service the bench starts runs on that PostgreSQL and Redis, in a database and under a key
 * prefix of its own that are removed when it stops (see {@link isolatedProductionShape}).
 */
import { randomBytes } from 'node:crypto';

import { deleteKeysUnder, freshDatabase } from './scaling-resources.ts';

/** Variables taken from the bench's environment into each service it starts. */
const PASSED_THROUGH = ['DATABASE_URL', 'DATABASE_POOL_SIZE', 'REDIS_URL'] as const;

/** The production-shape variables set in this process's environment, to give a service. */
export function productionShape(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_THROUGH) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return env;
}

/** `embedded`, or which production seams are in use, for the printed lines and the JSON. */
export function shapeName(): string {
  const env = productionShape();
  const parts = [
    env.DATABASE_URL ? 'PostgreSQL' : 'PGlite',
    env.REDIS_URL ? 'Redis' : 'in-process queue',
  ];
  return env.DATABASE_URL || env.REDIS_URL ? `production (${parts.join(', ')})` : 'embedded';
}

/** The variables that put one bench service on the production shape, and how to clean up. */
export interface IsolatedShape {
  env: Record<string, string>;
  /** Drops the database and deletes the keys made for the service; call once it has stopped. */
  release: () => Promise<void>;
}

/**
 * {@link productionShape}, but with a new database on the `DATABASE_URL` server (CREATE
 * DATABASE, so the URL's user needs that right) and a new `QUEUE_PREFIX` on `REDIS_URL`: a bench
 * run never writes into the database or the queues the URLs name, which may be in use, nor
 * counts another run's work. Nothing is made on the embedded shape.
 */
export async function isolatedProductionShape(): Promise<IsolatedShape> {
  const env = productionShape();
  const tag = `${process.pid}_${randomBytes(4).toString('hex')}`;
  const releases: (() => Promise<void>)[] = [];

  if (env.DATABASE_URL) {
    const database = await freshDatabase(env.DATABASE_URL, `bench_${tag}`);
    env.DATABASE_URL = database.url;
    releases.push(database.drop);
  }
  const redisUrl = env.REDIS_URL;
  if (redisUrl) {
    env.QUEUE_PREFIX = `bench-${tag.replace('_', '-')}`;
    const prefix = env.QUEUE_PREFIX;
    releases.push(() => deleteKeysUnder(redisUrl, prefix));
  }

  return {
    env,
    release: async () => {
      for (const release of releases) await release();
    },
  };
}
