import { createTestDatabase, dropTestDatabase } from './postgres.ts';
import { deleteKeysUnder, redisUrl, uniquePrefix } from './redis.ts';

/**
 * Which shape the service suites start: `embedded` (PGlite, in-process queue and events; the
 * default) or `production` (TEST_SHAPE=production: a fresh PostgreSQL database, and BullMQ and
 * Redis pub/sub under a key prefix of its own). Read by the test helpers only.
 */
export const testShape = process.env.TEST_SHAPE === 'production' ? 'production' : 'embedded';

/** Variables that put a service on the production shape, and how to remove what they made. */
export interface ShapeResources {
  env: Record<string, string>;
  release(): Promise<void>;
}

/**
 * A fresh database and key prefix for one service of the production shape. Short queue locks
 * make a dead worker's jobs come back within seconds.
 */
export async function productionResources(): Promise<ShapeResources> {
  const database = await createTestDatabase();
  const prefix = uniquePrefix();
  return {
    env: {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      QUEUE_LOCK_MS: '3000',
      QUEUE_STALLED_INTERVAL_MS: '1000',
    },
    release: async () => {
      await dropTestDatabase(database.name);
      await deleteKeysUnder(prefix);
    },
  };
}

/** The resources of the shape under test: none for the embedded one. */
export async function shapeResources(): Promise<ShapeResources> {
  if (testShape === 'production') return productionResources();
  return { env: {}, release: () => Promise.resolve() };
}
