import { randomUUID } from 'node:crypto';

import type { ProductSource } from '../csv/csv.spool.ts';
import type { SqlRunner, TransactionRunner } from '../db/database.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import type {
  ProcessingOptions,
  ProductWithImages,
  RequestRecord,
  TerminalStatus,
} from '../domain/request.ts';

export interface NewRequest {
  id: string;
  ownerId: string;
  fileName: string | null;
  webhookUrl: string | null;
  options: ProcessingOptions;
}

/**
 * Products a batch carries (one INSERT of products, one of their images). Each statement has
 * one array parameter per column (`unnest`), so its parameter count stays constant however
 * large the file; a batch is all of the upload that is in memory at once.
 */
const INSERT_BATCH = 1_000;
/**
 * Lets other work run between two batches: the embedded database runs on this thread, and a
 * large upload would otherwise hold health checks, pings and other clients for seconds.
 */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

type Row = Prisma.RequestGetPayload<object>;

/**
 * One batch of products and their images, in one statement. The batch is one JSON parameter
 * (see ProductBatch), its products numbered from `$3`; ids are made by the database
 * (`gen_random_uuid`), and each image finds its product by position among the rows just
 * inserted.
 */
const INSERT_BATCH_SQL = `
  WITH input AS (
    SELECT $3::int + t.ordinality::int - 1 AS position, t.value AS row
    FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t
  ), product AS (
    INSERT INTO products (id, request_id, serial_number, name, position)
    SELECT gen_random_uuid(), $1::uuid, (row->>0)::int, row->>1, position FROM input
    RETURNING id, position
  )
  INSERT INTO images (id, product_id, request_id, position, input_url)
  SELECT gen_random_uuid(), p.id, $1::uuid, u.ordinality::int - 1, u.value
  FROM input i
  JOIN product p ON p.position = i.position
  CROSS JOIN LATERAL jsonb_array_elements_text(i.row->2) WITH ORDINALITY AS u`;

/**
 * Links every listing of a URL after its first in the file to that first one, its leader (see
 * DuplicateRepository). Only URLs listed more than once are sorted, so a request without
 * repeats, the usual case, costs one pass over its images.
 */
const LINK_REPEATS_SQL = `
  WITH repeated AS (
    SELECT input_url FROM images WHERE request_id = $1::uuid
    GROUP BY input_url HAVING count(*) > 1
  ), ranked AS (
    SELECT i.id, first_value(i.id) OVER (
      PARTITION BY i.input_url ORDER BY p.position, i.position
    ) AS leader_id
    FROM images i JOIN products p ON p.id = i.product_id
    WHERE i.request_id = $1::uuid AND i.input_url IN (SELECT input_url FROM repeated)
  )
  UPDATE images i SET leader_id = r.leader_id
  FROM ranked r WHERE i.id = r.id AND r.leader_id <> r.id`;

/**
 * One request by id, its columns named as RequestRecord names them. The progress query polled
 * by every client of a running request comes down to this statement.
 */
const FIND_BY_ID_SQL = `
  SELECT id, owner_id AS "ownerId", status, file_name AS "fileName", webhook_url AS "webhookUrl",
    options, total_images AS "totalImages", completed_images AS "completedImages",
    failed_images AS "failedImages", output_csv_key AS "outputCsvKey", created_at AS "createdAt",
    updated_at AS "updatedAt", completed_at AS "completedAt"
  FROM requests WHERE id = $1::uuid`;

function toRecord(row: Row): RequestRecord {
  return { ...row, options: row.options as unknown as ProcessingOptions };
}

/** Requests, their products and images as the database stores them. */
export class RequestRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly sql: SqlRunner,
    private readonly transaction: TransactionRunner,
  ) {}

  /**
   * Stores a request with all its products and images in one transaction, `INSERT_BATCH`
   * products at a time as they are read from `products`, and links repeated URLs. Runs on the
   * driver rather than through Prisma (see {@link TransactionRunner}): its batches carry
   * thousands of values. A failure, reading `products` included, stores nothing.
   *
   * @param stop - when aborted before the transaction commits (checked before each batch and
   * before the commit), nothing is stored and this rejects with its reason
   */
  async create(
    request: NewRequest,
    products: ProductSource,
    stop?: AbortSignal,
  ): Promise<RequestRecord> {
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
          products.imageCount,
        ],
      );
      let position = 0;
      for await (const batch of products.batches(INSERT_BATCH)) {
        stop?.throwIfAborted();
        await sql(INSERT_BATCH_SQL, [request.id, batch.json, position]);
        position += batch.count;
        await yieldToEventLoop();
      }
      await sql(LINK_REPEATS_SQL, [request.id]);
      stop?.throwIfAborted();
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

  /**
   * Runs on the driver rather than through Prisma (see SqlRunner): a prepared statement on the
   * embedded database, and none of Prisma's query building, took about a fifth off what a
   * progress query costs the service's thread.
   */
  async findById(id: string): Promise<RequestRecord | null> {
    const [row] = await this.sql<RequestRecord>(FIND_BY_ID_SQL, [id]);
    return row ?? null;
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
