import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database, SqlRunner } from '../src/db/database.ts';
import { openDatabase } from '../src/db/database.ts';
import type { ProcessingOptions } from '../src/domain/request.ts';
import { productsInMemory } from '../src/csv/csv.spool.ts';
import type { ProductToStore } from '../src/csv/csv.spool.ts';
import { ServiceError } from '../src/errors.ts';
import { createLogger } from '../src/observability/logger.ts';
import type { PrismaClient } from '../src/generated/prisma/client.ts';
import { MemoryQueue } from '../src/queue/queue.memory.ts';
import { ImageRepository } from '../src/repositories/image.repository.ts';
import { RequestRepository } from '../src/repositories/request.repository.ts';
import type { RequestFinalizer } from '../src/processing/request.finalizer.ts';
import { RequestService } from '../src/services/request.service.ts';
import { fixtureCsv } from './helpers/image-server.ts';
import { openTempPGlite } from './helpers/pglite.ts';
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

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const NEW_REQUEST = { ownerId: 'alice', fileName: 'big.csv', webhookUrl: null, options: OPTIONS };

/**
 * `db` with every statement sent through its `sql` runner or through a transaction of its
 * `transaction` runner pushing its bind-parameter count to `counts`.
 */
function countingParameters(db: Database, counts: number[]): Database {
  const counting =
    (sql: SqlRunner): SqlRunner =>
    (text, params) => {
      counts.push(params.length);
      return sql(text, params);
    };
  return {
    ...db,
    sql: counting(db.sql),
    transaction: (work) => db.transaction((sql) => work(counting(sql))),
  };
}

/** Heap in use after full collections, in MB. */
function heapAfterGcMB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1_048_576;
}

function bigUpload(): ProductToStore[] {
  return Array.from({ length: PRODUCTS }, (_, position) => ({
    serialNumber: position + 1,
    name: `Product ${position + 1}`,
    imageUrls: Array.from(
      { length: URLS_PER_PRODUCT },
      (_, i) => `https://images.example.com/products/${position + 1}/${i}.jpg`,
    ),
  }));
}

/** Stores the big upload through `RequestRepository.create` and counts what is read back. */
function describeBulkInsert(
  open: () => Promise<{ db: Database; close: () => Promise<void> }>,
): void {
  const counts: number[] = [];
  let close = () => Promise.resolve();
  let stored: { products: number; images: number };
  let retainedMB: number;

  beforeAll(async () => {
    const opened = await open();
    close = () => opened.close();
    const db = countingParameters(opened.db, counts);
    const requestId = randomUUID();
    const repository = new RequestRepository(db.prisma, db.sql, db.transaction);
    // Once first, so what loading and planning keep for good is not counted below.
    await repository.create(
      { ...NEW_REQUEST, id: randomUUID() },
      productsInMemory(bigUpload().slice(0, 10)),
    );

    const before = heapAfterGcMB();
    await repository.create({ ...NEW_REQUEST, id: requestId }, productsInMemory(bigUpload()));
    retainedMB = heapAfterGcMB() - before;
    stored = {
      products: await db.prisma.product.count({ where: { requestId } }),
      images: await db.prisma.image.count({ where: { requestId } }),
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

  // The upload's values (some 10 MB as text) are not kept once it is stored: through Prisma, the
  // client's debug buffer kept each batch's arguments until a hundred more statements ran.
  it('keeps less than 3 MB of heap once the request is stored', () => {
    expect(retainedMB).toBeLessThan(3);
  });
}

describe('a request of 25,000 products × 3 URLs stored on PGlite', () => {
  describeBulkInsert(() => openTempPGlite('bulk-insert'));
});

describe.skipIf(skipPostgres)('a request of 25,000 products × 3 URLs stored on PostgreSQL', () => {
  describeBulkInsert(async () => {
    const database: TestDatabase = await createTestDatabase();
    const db = await openDatabase({ url: database.url, pgliteDir: '', poolSize: 4 });
    return {
      db,
      close: async () => {
        await db.close();
        await dropTestDatabase(database.name);
      },
    };
  });
});

describe('a CSV whose rows are rejected', () => {
  let db: Database;
  let prisma: PrismaClient;
  let close = () => Promise.resolve();

  beforeAll(async () => {
    ({ db, close } = await openTempPGlite('bulk-insert'));
    prisma = db.prisma;
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
    const logger = createLogger({ level: 'error', format: 'json', stream: new PassThrough() });
    // Uploading never ends a request, so no finalizer is reached on this path.
    const noFinalizer = {} as RequestFinalizer;
    const service = new RequestService(
      new RequestRepository(prisma, db.sql, db.transaction),
      new MemoryQueue(new ImageRepository(prisma, db.sql), logger),
      limits,
      noFinalizer,
      logger,
    );
    const csv = await fixtureCsv('invalid-rows.csv', 'https://images.example.com');

    const error: unknown = await service.parse(Readable.from([csv])).catch((e: unknown) => e);
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
