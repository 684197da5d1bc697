import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { productsInMemory } from '../src/csv/csv.spool.ts';
import type { Database } from '../src/db/database.ts';
import { openDatabase } from '../src/db/database.ts';
import type { ImageOutcome, ProcessingOptions } from '../src/domain/request.ts';
import { ImageRepository } from '../src/repositories/image.repository.ts';
import { RequestRepository } from '../src/repositories/request.repository.ts';
import { openTempPGlite } from './helpers/pglite.ts';
import { createTestDatabase, dropTestDatabase, skipWithoutPostgres } from './helpers/postgres.ts';

const skipPostgres = await skipWithoutPostgres();

const OPTIONS: ProcessingOptions = {
  quality: 80,
  format: 'WEBP',
  maxWidth: 640,
  maxHeight: null,
  keepMetadata: false,
};

const DONE: ImageOutcome = {
  status: 'COMPLETED',
  outputKey: 'requests/r/images/i.webp',
  outputUrl: 'http://localhost/files/requests/r/images/i.webp',
  inputBytes: 2048,
  outputBytes: 512,
  format: 'webp',
  width: 640,
  height: 480,
};

/** Stores a PENDING request of one product with two images; returns their ids. */
async function storeRequest(db: Database) {
  const requestId = randomUUID();
  const requests = new RequestRepository(db.prisma, db.sql, db.transaction);
  await requests.create(
    { id: requestId, ownerId: 'alice', fileName: 'a.csv', webhookUrl: null, options: OPTIONS },
    productsInMemory([
      {
        serialNumber: 1,
        name: 'Chair',
        imageUrls: [0, 1].map((position) => `https://img.example.com/${position}.jpg`),
      },
    ]),
  );
  const { items } = await requests.listProducts(requestId, 1, null);
  return { requestId, imageIds: items[0]?.images.map((image) => image.id) ?? [] };
}

/** The claim and finish statements, which go to the driver itself, on one kind of database. */
function describeImageRows(
  open: () => Promise<{ db: Database; close: () => Promise<void> }>,
): void {
  let db: Database;
  let close = () => Promise.resolve();
  let images: ImageRepository;

  beforeAll(async () => {
    ({ db, close } = await open());
    images = new ImageRepository(db.prisma, db.sql);
  });
  afterAll(async () => {
    await close();
  });

  it('claims an image with its URL and options as typed values, and starts its request', async () => {
    const { requestId, imageIds } = await storeRequest(db);

    const claimed = await images.claim(imageIds[1] ?? '');
    const request = await new RequestRepository(db.prisma, db.sql, db.transaction).findById(
      requestId,
    );

    expect(claimed).toMatchObject({
      image: { id: imageIds[1], requestId, position: 1, status: 'PROCESSING', outputUrl: null },
      options: OPTIONS,
      requestStatus: 'PROCESSING',
      counts: { requestId, total: 2, completed: 0, failed: 0 },
    });
    expect(request?.status).toBe('PROCESSING');
  });

  it('counts an outcome once: a second finish of the same image returns null', async () => {
    const { requestId, imageIds } = await storeRequest(db);
    const imageId = imageIds[0] ?? '';
    await images.claim(imageId);

    const first = await images.finish(imageId, DONE);
    const again = await images.finish(imageId, { status: 'FAILED', error: 'late repeat' });
    const stored = await db.prisma.image.findUniqueOrThrow({ where: { id: imageId } });

    expect(first).toEqual({ requestId, total: 2, completed: 1, failed: 0 });
    expect(again).toBeNull();
    expect([stored.status, stored.width, stored.outputUrl]).toEqual([
      'COMPLETED',
      640,
      DONE.outputUrl,
    ]);
  });

  it('claims nothing of a request that has ended', async () => {
    const { requestId, imageIds } = await storeRequest(db);
    await db.prisma.request.update({ where: { id: requestId }, data: { status: 'CANCELLED' } });

    expect(await images.claim(imageIds[0] ?? '')).toBeNull();
  });

  it('gives a queue no page of a request that has ended', async () => {
    const { requestId } = await storeRequest(db);
    const before = await images.pageUnfinished(requestId, null, 500);
    await db.prisma.request.update({ where: { id: requestId }, data: { status: 'CANCELLED' } });

    expect(before.imageIds).toHaveLength(2);
    expect(await images.pageUnfinished(requestId, null, 500)).toEqual({ imageIds: [], next: null });
  });
}

describe('image rows on PGlite', () => {
  describeImageRows(() => openTempPGlite('image-rows'));
});

describe.skipIf(skipPostgres)('image rows on PostgreSQL', () => {
  describeImageRows(async () => {
    const database = await createTestDatabase();
    const db = await openDatabase({ url: database.url, pgliteDir: '', poolSize: 2 });
    return {
      db,
      close: async () => {
        await db.close();
        await dropTestDatabase(database.name);
      },
    };
  });
});
