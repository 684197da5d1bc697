import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../src/db/database.ts';
import { openDatabase } from '../src/db/database.ts';
import type { PrismaClient } from '../src/generated/prisma/client.ts';
import { productsInMemory } from '../src/csv/csv.spool.ts';
import { DuplicateRepository } from '../src/repositories/duplicate.repository.ts';
import { ImageRepository } from '../src/repositories/image.repository.ts';
import { RequestRepository } from '../src/repositories/request.repository.ts';
import type { TestDatabase } from './helpers/postgres.ts';
import { createTestDatabase, dropTestDatabase, skipWithoutPostgres } from './helpers/postgres.ts';
import { storeOneProductRequest } from './helpers/requests.ts';
import { resolveProcessingOptions } from '../src/services/processing-options.ts';

const OPTIONS = resolveProcessingOptions(null, 50);

/**
 * Repeated URLs decided in the database, on PostgreSQL with a pool of several connections, as
 * several worker processes would share it: whatever order and however concurrently the jobs
 * run, every listing is counted once.
 */

const skipPostgres = await skipWithoutPostgres();

describe.skipIf(skipPostgres)('repeated URLs on PostgreSQL', () => {
  let database: TestDatabase;
  let db: Database;
  let prisma: PrismaClient;
  let requests: RequestRepository;
  let images: ImageRepository;
  let duplicates: DuplicateRepository;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = await openDatabase({ url: database.url, pgliteDir: '', poolSize: 8 });
    prisma = db.prisma;
    requests = new RequestRepository(prisma, db.sql, db.transaction);
    images = new ImageRepository(prisma, db.sql);
    duplicates = new DuplicateRepository(db.sql);
  });
  afterAll(async () => {
    await db.close();
    await dropTestDatabase(database.name);
  });

  /** A request of one product listing `urls` in order; returns the image ids in that order. */
  async function storeRequest(urls: string[]): Promise<{ id: string; imageIds: string[] }> {
    const { requestId, imageIds } = await storeOneProductRequest(requests, urls);
    return { id: requestId, imageIds };
  }

  /** How many images of the request follow another listing of their URL. */
  async function followersOf(requestId: string): Promise<number> {
    return prisma.image.count({ where: { requestId, leaderId: { not: null } } });
  }

  it('makes the first listing of a URL in the file its leader, across products', async () => {
    const id = randomUUID();
    await requests.create(
      { id, ownerId: 'alice', fileName: 'a.csv', webhookUrl: null, options: OPTIONS },
      productsInMemory([
        { serialNumber: 7, name: 'Chair', imageUrls: ['https://a/1.jpg', 'https://a/2.jpg'] },
        { serialNumber: 3, name: 'Table', imageUrls: ['https://a/2.jpg', 'https://a/1.jpg'] },
      ]),
    );
    const { items } = await requests.listProducts(id, 2, null);
    const [chair, table] = items.map((product) => product.images.map((image) => image.id));

    const leaders = await prisma.image.findMany({
      where: { requestId: id },
      select: { id: true, leaderId: true },
    });
    const leaderOf = new Map(leaders.map((image) => [image.id, image.leaderId]));
    expect(table?.map((imageId) => leaderOf.get(imageId))).toEqual([chair?.[1], chair?.[0]]);
    expect(chair?.map((imageId) => leaderOf.get(imageId))).toEqual([null, null]);
  });

  it('lets exactly one listing of each URL be claimed', async () => {
    const urls = ['https://a/1.jpg', 'https://a/2.jpg', 'https://a/1.jpg'];
    const { id, imageIds } = await storeRequest(urls);

    const followers = await followersOf(id);
    const claims = await Promise.all(imageIds.map((id) => images.claim(id)));

    expect(followers).toBe(1);
    expect(claims.filter((c) => c !== null)).toHaveLength(2);
  });

  it('counts every follower once when the leader and its followers settle at the same time', async () => {
    const urls = Array.from({ length: 12 }, () => 'https://a/same.jpg');
    const { id, imageIds } = await storeRequest(urls);
    const [leader] = (await Promise.all(imageIds.map((i) => images.claim(i)))).filter((c) => c);
    const outcome = {
      status: 'COMPLETED' as const,
      outputUrl: 'https://out/x.jpg',
      outputBytes: 9,
    };
    await images.finish(leader?.image.id ?? '', outcome);

    // The leader's own settle and every follower's job, all at once on 8 connections.
    await Promise.all(imageIds.map((i) => duplicates.settleFollowers(i)));

    const request = await requests.findById(id);
    const rows = await prisma.image.findMany({ where: { requestId: id } });
    expect([request?.completedImages, request?.failedImages]).toEqual([12, 0]);
    expect(rows.every((r) => r.status === 'COMPLETED' && r.outputUrl === 'https://out/x.jpg')).toBe(
      true,
    );
  });

  it('copies nothing while the leader is unfinished, and nothing once the request has ended', async () => {
    const urls = ['https://a/b.jpg', 'https://a/b.jpg'];
    const { id, imageIds } = await storeRequest(urls);

    const early = await Promise.all(imageIds.map((i) => duplicates.settleFollowers(i)));
    await prisma.request.update({ where: { id }, data: { status: 'CANCELLED' } });
    const leader = (await prisma.image.findFirst({ where: { requestId: id, leaderId: null } }))?.id;
    await prisma.image.update({ where: { id: leader ?? '' }, data: { status: 'FAILED' } });
    const late = await duplicates.settleFollowers(leader ?? '');

    expect(early).toEqual([null, null]);
    expect(late).toBeNull();
  });
});
