import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';

import type {
  SqlMigrationAwareDriverAdapterFactory,
  SqlQueryable,
} from '@prisma/driver-adapter-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PGlite, PGliteAdapterFactory, pg, pgAdapterFactory } from '../src/db/adapters.ts';
import { applyMigrations } from '../src/db/migrator.ts';
import type { ProcessingOptions } from '../src/domain/request.ts';
import { ServiceError } from '../src/errors.ts';
import { createLogger } from '../src/observability/logger.ts';
import { PrismaClient } from '../src/generated/prisma/client.ts';
import { MemoryQueue } from '../src/queue/queue.memory.ts';
import { DuplicateRepository } from '../src/repositories/duplicate.repository.ts';
import type { NewProduct } from '../src/repositories/request.repository.ts';
import { RequestRepository } from '../src/repositories/request.repository.ts';
import type { RequestFinalizer } from '../src/processing/request.finalizer.ts';
import { RequestService } from '../src/services/request.service.ts';
import { fixtureCsv } from './helpers/image-server.ts';
import type { TestDatabase } from './helpers/postgres.ts';
import { createTestDatabase, dropTestDatabase, skipWithoutPostgres } from './helpers/postgres.ts';

const PRODUCTS = 25_000;
const URLS_PER_PRODUCT = 3;
/** Half of PostgreSQL's 65,535 bind parameters a statement, the margin C-16 asks for. */
const MAX_PARAMETERS = 30_000;

const OPTIONS: ProcessingOptions = {
  quality: 50,
  format: 'ORIGINAL',
  maxWidth: null,
  maxHeight: null,
  keepMetadata: false,
};

const skipPostgres = await skipWithoutPostgres();

function recordArgs<T extends SqlQueryable>(queryable: T, counts: number[]): T {
  const queryRaw = queryable.queryRaw.bind(queryable);
  const executeRaw = queryable.executeRaw.bind(queryable);
  queryable.queryRaw = (query) => {
    counts.push(query.args.length);
    return queryRaw(query);
  };
  queryable.executeRaw = (query) => {
    counts.push(query.args.length);
    return executeRaw(query);
  };
  return queryable;
}

/**
 * Wraps a driver adapter factory so that every statement sent through the adapter it connects,
 * or through a transaction started on that adapter, has its bind-parameter count pushed to
 * `counts`.
 */
function countingParameters(
  factory: SqlMigrationAwareDriverAdapterFactory,
  counts: number[],
): SqlMigrationAwareDriverAdapterFactory {
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter = recordArgs(await connect(), counts);
    const startTransaction = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (isolationLevel) =>
      recordArgs(await startTransaction(isolationLevel), counts);
    return adapter;
  };
  return factory;
}

function bigUpload(): NewProduct[] {
  return Array.from({ length: PRODUCTS }, (_, position) => ({
    id: randomUUID(),
    serialNumber: position + 1,
    name: `Product ${position + 1}`,
    position,
    images: Array.from({ length: URLS_PER_PRODUCT }, (_, i) => ({
      id: randomUUID(),
      position: i,
      inputUrl: `https://images.example.com/products/${position + 1}/${i}.jpg`,
    })),
  }));
}

interface Opened {
  /** A factory on a migrated database, for the client under test. */
  factory: SqlMigrationAwareDriverAdapterFactory;
  close(): Promise<void>;
}

/** Stores the big upload through `RequestRepository.create` and counts what is read back. */
function describeBulkInsert(open: () => Promise<Opened>): void {
  const counts: number[] = [];
  let close = () => Promise.resolve();
  let stored: { products: number; images: number };

  beforeAll(async () => {
    const opened = await open();
    const prisma = new PrismaClient({ adapter: countingParameters(opened.factory, counts) });
    close = async () => {
      await prisma.$disconnect();
      await opened.close();
    };
    const requestId = randomUUID();

    await new RequestRepository(prisma).create(
      { id: requestId, ownerId: 'alice', fileName: 'big.csv', webhookUrl: null, options: OPTIONS },
      bigUpload(),
    );
    stored = {
      products: await prisma.product.count({ where: { requestId } }),
      images: await prisma.image.count({ where: { requestId } }),
    };
  });
  afterAll(async () => {
    await close();
  });

  it('stores all 25,000 products and 75,000 images', () => {
    expect(stored).toEqual({ products: PRODUCTS, images: PRODUCTS * URLS_PER_PRODUCT });
  });

  it('sends no statement with more than 30,000 bind parameters', () => {
    expect(counts.length).toBeGreaterThan(0);
    expect(Math.max(...counts)).toBeLessThanOrEqual(MAX_PARAMETERS);
  });
}

describe('a request of 25,000 products × 3 URLs stored on PGlite', () => {
  describeBulkInsert(async () => {
    const pglite = new PGlite();
    await applyMigrations(new PGliteAdapterFactory(pglite));
    return { factory: new PGliteAdapterFactory(pglite), close: () => pglite.close() };
  });
});

describe.skipIf(skipPostgres)('a request of 25,000 products × 3 URLs stored on PostgreSQL', () => {
  describeBulkInsert(async () => {
    const database: TestDatabase = await createTestDatabase();
    const migrationPool = new pg.Pool({ connectionString: database.url, max: 1 });
    try {
      await applyMigrations(pgAdapterFactory(migrationPool));
    } finally {
      await migrationPool.end();
    }

    const pool = new pg.Pool({ connectionString: database.url, max: 4 });
    return {
      factory: pgAdapterFactory(pool),
      close: async () => {
        await pool.end();
        await dropTestDatabase(database.name);
      },
    };
  });
});

describe('a CSV whose rows are rejected', () => {
  let prisma: PrismaClient;
  let close = () => Promise.resolve();

  beforeAll(async () => {
    const pglite = new PGlite();
    const factory = new PGliteAdapterFactory(pglite);
    prisma = new PrismaClient({ adapter: factory });
    close = async () => {
      await prisma.$disconnect();
      await pglite.close();
    };

    await applyMigrations(factory);
  });
  afterAll(async () => {
    await close();
  });

  it('is refused with CSV_INVALID listing its 4 problems, and nothing is stored', async () => {
    const limits = {
      maxRows: 100_000,
      maxUrlsPerRow: 50,
      maxImages: 300_000,
      maxUrlLength: 2_048,
      maxNameLength: 500,
    };
    // Uploading never ends a request, so no finalizer is reached on this path.
    const noFinalizer = {} as RequestFinalizer;
    const service = new RequestService(
      new RequestRepository(prisma),
      new MemoryQueue(),
      limits,
      noFinalizer,
      new DuplicateRepository(prisma),
      createLogger({ level: 'error', format: 'json', stream: new PassThrough() }),
    );
    const csv = await fixtureCsv('invalid-rows.csv', 'https://images.example.com');

    const error: unknown = await service
      .upload(
        { subject: 'alice', isAdmin: false },
        {
          file: Readable.from([csv]),
          fileName: 'invalid-rows.csv',
          webhookUrl: null,
          options: OPTIONS,
        },
      )
      .catch((e: unknown) => e);
    const rows = {
      requests: await prisma.request.count(),
      products: await prisma.product.count(),
      images: await prisma.image.count(),
    };

    expect(error).toBeInstanceOf(ServiceError);
    expect(
      error instanceof ServiceError && {
        code: error.code,
        lines: error.problems?.map((p) => p.line),
      },
    ).toEqual({
      code: 'CSV_INVALID',
      lines: [3, 4, 5, 6],
    });
    expect(rows).toEqual({ requests: 0, products: 0, images: 0 });
  });
});
