import { randomUUID } from 'node:crypto';

import type { TransactionRunner } from '../db/database.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import type {
  ProcessingOptions,
  ProductWithImages,
  RequestRecord,
  TerminalStatus,
} from '../domain/request.ts';

/** A product ready to insert, with ids made by the caller. */
export interface NewProduct {
  id: string;
  serialNumber: number;
  name: string;
  position: number;
  images: { id: string; position: number; inputUrl: string }[];
}

export interface NewRequest {
  id: string;
  ownerId: string;
  fileName: string | null;
  webhookUrl: string | null;
  options: ProcessingOptions;
}

/**
 * Rows a single INSERT carries. Each batch is one statement with one array parameter per
 * column (`unnest`), so its parameter count stays constant however large the file.
 */
const INSERT_BATCH = 5_000;
/**
 * Lets other work run between two batches: the embedded database runs on this thread, and a
 * large upload would otherwise hold health checks, pings and other clients for seconds.
 */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

type Row = Prisma.RequestGetPayload<object>;

/** The images of `products` as column arrays of about INSERT_BATCH rows, built batch by batch. */
function* imageBatches(products: NewProduct[]) {
  let batch = {
    ids: [] as string[],
    productIds: [] as string[],
    positions: [] as number[],
    urls: [] as string[],
  };
  for (const product of products) {
    for (const image of product.images) {
      batch.ids.push(image.id);
      batch.productIds.push(product.id);
      batch.positions.push(image.position);
      batch.urls.push(image.inputUrl);
    }
    if (batch.ids.length >= INSERT_BATCH) {
      yield batch;
      batch = { ids: [], productIds: [], positions: [], urls: [] };
    }
  }
  if (batch.ids.length > 0) yield batch;
}

function toRecord(row: Row): RequestRecord {
  return { ...row, options: row.options as unknown as ProcessingOptions };
}

/** Requests, their products and images as the database stores them. */
export class RequestRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly transaction: TransactionRunner,
  ) {}

  /**
   * Stores a request with all its products and images in one transaction, on the driver rather
   * than through Prisma (see {@link TransactionRunner}): its batches carry thousands of values.
   */
  async create(request: NewRequest, products: NewProduct[]): Promise<RequestRecord> {
    const totalImages = products.reduce((n, p) => n + p.images.length, 0);

    await this.transaction(async (sql) => {
      await sql(
        `INSERT INTO requests (id, owner_id, file_name, webhook_url, options, total_images, updated_at)
         VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::jsonb, $6::int, now())`,
        [
          request.id,
          request.ownerId,
          request.fileName,
          request.webhookUrl,
          JSON.stringify(request.options),
          totalImages,
        ],
      );
      for (let i = 0; i < products.length; i += INSERT_BATCH) {
        const batch = products.slice(i, i + INSERT_BATCH);
        await sql(
          `INSERT INTO products (id, request_id, serial_number, name, position)
           SELECT u.id, $1::uuid, u.serial, u.name, u.position
           FROM unnest($2::uuid[], $3::int[], $4::text[], $5::int[]) AS u(id, serial, name, position)`,
          [
            request.id,
            batch.map((p) => p.id),
            batch.map((p) => p.serialNumber),
            batch.map((p) => p.name),
            batch.map((p) => p.position),
          ],
        );
        await yieldToEventLoop();
      }
      for (const batch of imageBatches(products)) {
        await sql(
          `INSERT INTO images (id, product_id, request_id, position, input_url)
           SELECT u.id, u.product_id, $1::uuid, u.position, u.input_url
           FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::text[])
             AS u(id, product_id, position, input_url)`,
          [request.id, batch.ids, batch.productIds, batch.positions, batch.urls],
        );
        await yieldToEventLoop();
      }
    });
    const created = await this.findById(request.id);
    if (!created) throw new Error(`The request ${request.id} just stored cannot be read back`);
    return created;
  }

  /**
   * Deletes a request with its products, images and webhook deliveries (the foreign keys
   * cascade). For a request whose upload failed after it was stored; ended requests are kept.
   */
  async remove(id: string): Promise<void> {
    await this.prisma.request.deleteMany({ where: { id } });
  }

  async findById(id: string): Promise<RequestRecord | null> {
    const row = await this.prisma.request.findUnique({ where: { id } });
    return row && toRecord(row);
  }

  /**
   * One page of requests, newest first.
   *
   * @param ownerId - only this owner's requests; `null` for all owners
   * @param after - the last request of the previous page
   */
  async list(ownerId: string | null, first: number, after: { createdAt: Date; id: string } | null) {
    const rows = await this.prisma.request.findMany({
      where: {
        ...(ownerId === null ? {} : { ownerId }),
        ...(after && {
          OR: [
            { createdAt: { lt: after.createdAt } },
            { createdAt: after.createdAt, id: { lt: after.id } },
          ],
        }),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: first + 1,
    });
    return { items: rows.slice(0, first).map(toRecord), hasMore: rows.length > first };
  }

  /** One page of a request's products in file order, each with its images in cell order. */
  async listProducts(
    requestId: string,
    first: number,
    afterPosition: number | null,
  ): Promise<{ items: ProductWithImages[]; hasMore: boolean }> {
    const rows = await this.prisma.product.findMany({
      where: { requestId, ...(afterPosition !== null && { position: { gt: afterPosition } }) },
      orderBy: { position: 'asc' },
      take: first + 1,
      include: { images: { orderBy: { position: 'asc' } } },
    });
    return { items: rows.slice(0, first), hasMore: rows.length > first };
  }

  /**
   * Records a request's end and, in the same transaction, one webhook delivery for each target:
   * the request's own `webhookUrl` and each active webhook its owner registered. Only the first
   * caller wins, so a crash or a race can neither lose nor double a delivery.
   *
   * @param webhookBody - the JSON every delivery of this end sends, made from the ended request
   * @returns the ended request, or null when it had already ended
   */
  async finish(
    id: string,
    end: { status: TerminalStatus; outputCsvKey: string; completedAt: Date },
    webhookBody: (request: RequestRecord) => Promise<string>,
  ): Promise<RequestRecord | null> {
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.request.updateMany({
        where: { id, status: { in: ['PENDING', 'PROCESSING'] } },
        data: end,
      });
      if (count === 0) return null;
      // Images in flight when a request is cancelled are not counted when they end (see
      // ImageRepository.finish): they read as not processed, like those not started.
      if (end.status === 'CANCELLED') {
        await tx.image.updateMany({
          where: { requestId: id, status: 'PROCESSING' },
          data: { status: 'PENDING', startedAt: null },
        });
      }

      const request = toRecord(await tx.request.findUniqueOrThrow({ where: { id } }));
      const hooks = await tx.webhook.findMany({
        where: { ownerId: request.ownerId, isActive: true },
        select: { id: true, url: true },
      });
      const targets = [
        ...(request.webhookUrl ? [{ webhookId: null, url: request.webhookUrl }] : []),
        ...hooks.map((h) => ({ webhookId: h.id, url: h.url })),
      ];
      if (targets.length > 0) {
        const body = await webhookBody(request);
        await tx.webhookDelivery.createMany({
          data: targets.map((t) => ({
            id: randomUUID(),
            requestId: id,
            ownerId: request.ownerId,
            body,
            ...t,
          })),
        });
      }
      return request;
    });
  }

  /**
   * Requests that have not ended, oldest first: the work the recovery sweep makes sure is done.
   *
   * @param quietSince - only those whose row has not changed since then
   */
  async listUnfinished(quietSince?: Date): Promise<RequestRecord[]> {
    const rows = await this.prisma.request.findMany({
      where: {
        status: { in: ['PENDING', 'PROCESSING'] },
        ...(quietSince && { updatedAt: { lt: quietSince } }),
      },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map(toRecord);
  }
}
