import type { SqlRunner } from '../db/database.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { UnfinishedPage } from '../queue/queue.ts';
import type {
  ImageOutcome,
  ImageRecord,
  ProcessingOptions,
  RequestStatus,
} from '../domain/request.ts';

/** Counters of a request right after one of its images changed. */
export interface RequestCounts {
  requestId: string;
  total: number;
  completed: number;
  failed: number;
}

/** An image taken for processing, with what its request asked for and where it stands. */
export interface ClaimedImage {
  image: ImageRecord;
  options: ProcessingOptions;
  requestStatus: RequestStatus;
  counts: RequestCounts;
  /** Other listings of the same URL take this image's result once it is recorded. */
  hasFollowers: boolean;
}

interface ClaimRow extends ImageRecord {
  options: ProcessingOptions;
  requestStatus: RequestStatus;
  total: number;
  completed: number;
  failed: number;
  hasFollowers: boolean;
}

/** The row the claim statement returns: the image, and its request before the claim. */
const CLAIM_SQL = `
  UPDATE images i SET status = 'PROCESSING', attempts = i.attempts + 1, started_at = now()
  FROM requests r
  WHERE i.id = $1::uuid AND i.status IN ('PENDING', 'PROCESSING') AND i.leader_id IS NULL
    AND r.id = i.request_id AND r.status IN ('PENDING', 'PROCESSING')
  RETURNING i.id, i.product_id AS "productId", i.request_id AS "requestId", i.position,
    i.input_url AS "inputUrl", 'PROCESSING' AS status, i.output_key AS "outputKey",
    i.output_url AS "outputUrl", i.error, i.input_bytes AS "inputBytes",
    i.output_bytes AS "outputBytes", i.format, i.width, i.height,
    i.kept_original AS "keptOriginal", r.options,
    r.status::text AS "requestStatus", r.total_images AS total,
    r.completed_images AS completed, r.failed_images AS failed,
    EXISTS (SELECT 1 FROM images f WHERE f.leader_id = i.id) AS "hasFollowers"`;

/**
 * A page is a range of product positions (they run from 0 without gaps), read through the
 * (request, position) index, and its products' images through the (product, position) index.
 * The status is compared as text so that the planner cannot take the status index instead: on
 * a request just stored, before statistics exist, it would read every image of the request for
 * each page (about 50 ms a page at 300,000 images on PostgreSQL, against 7 ms).
 */
const PAGE_UNFINISHED_SQL = `
  WITH page AS (
    SELECT id, position FROM products
    WHERE request_id = $1::uuid AND position > $2::int AND position <= $2::int + $3::int
      -- A request that has ended (cancelled) has nothing left to queue.
      AND EXISTS (
        SELECT 1 FROM requests WHERE id = $1::uuid AND status IN ('PENDING', 'PROCESSING')
      )
  )
  SELECT (SELECT count(*) FROM page)::int AS read,
    coalesce((
      SELECT array_agg(i.id::text ORDER BY p.position, i.position)
      FROM page p JOIN images i ON i.product_id = p.id
      WHERE i.status::text IN ('PENDING', 'PROCESSING')
    ), '{}') AS ids`;

/** A request's first claimed image starts it; later claims find it PROCESSING already. */
const START_REQUEST_SQL = `
  UPDATE requests SET status = 'PROCESSING', updated_at = now()
  WHERE id = $1::uuid AND status = 'PENDING'`;

/**
 * Records an image's outcome and counts it, only while its request runs. The request row is
 * locked first, so a cancel that commits meanwhile is seen: once a request has ended its
 * counters and image rows stay as they were at the end. An image still PROCESSING for an ended
 * request is put back to PENDING, like every image the end left unstarted (`dropped`).
 */
const FINISH_SQL = `
  WITH live AS (
    SELECT r.id FROM requests r
    WHERE r.id = (SELECT request_id FROM images WHERE id = $1::uuid)
      AND r.status IN ('PENDING', 'PROCESSING')
    FOR UPDATE
  ), dropped AS (
    UPDATE images SET status = 'PENDING', started_at = NULL
    WHERE id = $1::uuid AND status = 'PROCESSING' AND NOT EXISTS (SELECT 1 FROM live)
  ), done AS (
    UPDATE images SET status = $2::"ImageStatus", output_key = $3, output_url = $4, error = $5,
      input_bytes = $6::int, output_bytes = $7::int, format = $8, width = $9::int,
      height = $10::int, kept_original = $13::boolean, finished_at = now()
    WHERE id = $1::uuid AND status IN ('PENDING', 'PROCESSING')
      AND request_id IN (SELECT id FROM live)
    RETURNING request_id
  )
  UPDATE requests r
  SET completed_images = r.completed_images + $11::int,
      failed_images = r.failed_images + $12::int, updated_at = now()
  FROM done WHERE r.id = done.request_id
  RETURNING r.id AS "requestId", r.total_images AS total,
            r.completed_images AS completed, r.failed_images AS failed`;

/**
 * Image rows: taking one for work, and recording what became of it exactly once. Both run for
 * every image, so each is one statement sent straight to the driver (`sql`, not Prisma's
 * engine): on the embedded database they run on the thread that serves everything else.
 */
export class ImageRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly sql: SqlRunner,
  ) {}

  /**
   * Marks an image PROCESSING if it is still to do and its request still runs, and its request
   * PROCESSING if this is its first image. An image found PROCESSING is taken again: its earlier
   * worker died (delivery is at least once). A follower of a repeated URL is never taken (see
   * DuplicateRepository).
   *
   * @returns null when there is nothing to do: the image is finished, follows another, or its
   * request has ended
   */
  async claim(imageId: string): Promise<ClaimedImage | null> {
    const [row] = await this.sql<ClaimRow>(CLAIM_SQL, [imageId]);
    if (!row) return null;

    const { options, requestStatus, total, completed, failed, hasFollowers, ...image } = row;
    if (requestStatus === 'PENDING') await this.sql(START_REQUEST_SQL, [image.requestId]);
    return {
      image,
      options,
      requestStatus: 'PROCESSING',
      counts: { requestId: image.requestId, total, completed, failed },
      hasFollowers,
    };
  }

  /**
   * Records an image's outcome and counts it on its request, in one statement. Only the first
   * outcome recorded for an image counts, so a job that runs twice is counted once; and none
   * counts once the request has ended (cancelled meanwhile): that result is dropped, the image
   * left PENDING, its stored file, if any, left in storage unreferenced.
   *
   * @returns the request's counters after this image, or null when the outcome was a repeat or
   * the request had ended
   */
  async finish(imageId: string, outcome: ImageOutcome): Promise<RequestCounts | null> {
    const completed = outcome.status === 'COMPLETED' ? 1 : 0;
    const [row] = await this.sql<RequestCounts>(FINISH_SQL, [
      imageId,
      outcome.status,
      outcome.outputKey ?? null,
      outcome.outputUrl ?? null,
      outcome.error ?? null,
      outcome.inputBytes ?? null,
      outcome.outputBytes ?? null,
      outcome.format ?? null,
      outcome.width ?? null,
      outcome.height ?? null,
      completed,
      1 - completed,
      outcome.keptOriginal ?? null,
    ]);
    return row ?? null;
  }

  /**
   * One page of a request's unfinished images (PENDING or PROCESSING), in file order: those of
   * the next `products` products after the product at position `after` (from the first when
   * null). A queue reads a large request this way instead of holding a job for every image.
   *
   * @returns the page's image ids, and the position to read the next page after, or null when
   * this page reached the request's last product or the request has ended
   */
  async pageUnfinished(
    requestId: string,
    after: number | null,
    products: number,
  ): Promise<UnfinishedPage> {
    const start = after ?? -1;
    const [row] = await this.sql<{ ids: string[]; read: number }>(PAGE_UNFINISHED_SQL, [
      requestId,
      start,
      products,
    ]);
    const read = row?.read ?? 0;
    return { imageIds: row?.ids ?? [], next: read < products ? null : start + products };
  }

  /** How many of a request's images after the product at position `after` are PENDING. */
  async countPendingAfter(requestId: string, after: number | null): Promise<number> {
    const [row] = await this.sql<{ pending: number }>(
      `SELECT count(*)::int AS pending FROM images i JOIN products p ON p.id = i.product_id
       WHERE i.request_id = $1::uuid AND i.status = 'PENDING' AND p.position > $2::int`,
      [requestId, after ?? -1],
    );
    return row?.pending ?? 0;
  }

  /** Whether any of a request's images is still PENDING or PROCESSING. */
  async hasUnfinished(requestId: string): Promise<boolean> {
    const image = await this.prisma.image.findFirst({
      where: { requestId, status: { in: ['PENDING', 'PROCESSING'] } },
      select: { id: true },
    });
    return image !== null;
  }
}
