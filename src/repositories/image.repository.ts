import type { PrismaClient } from '../generated/prisma/client.ts';
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
}

interface ClaimRow extends ImageRecord {
  options: ProcessingOptions;
  requestStatus: RequestStatus;
  total: number;
  completed: number;
  failed: number;
}

/**
 * Image rows: taking one for work, and recording what became of it exactly once. Each of the
 * two is one SQL statement, since they run for every image and the embedded database shares
 * the event loop with everything else.
 */
export class ImageRepository {
  constructor(private readonly prisma: PrismaClient) {}

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
    const rows = await this.prisma.$queryRaw<ClaimRow[]>`
      WITH claimed AS (
        UPDATE images SET status = 'PROCESSING', attempts = attempts + 1, started_at = now()
        WHERE id = ${imageId}::uuid AND status IN ('PENDING', 'PROCESSING') AND leader_id IS NULL
          AND request_id IN (SELECT id FROM requests WHERE status IN ('PENDING', 'PROCESSING'))
        RETURNING *
      ), started AS (
        UPDATE requests SET status = 'PROCESSING', updated_at = now()
        WHERE id = (SELECT request_id FROM claimed) AND status = 'PENDING'
        RETURNING id
      )
      SELECT c.id, c.product_id AS "productId", c.request_id AS "requestId", c.position,
             c.input_url AS "inputUrl", c.status::text AS status, c.output_key AS "outputKey",
             c.output_url AS "outputUrl", c.error, c.input_bytes AS "inputBytes",
             c.output_bytes AS "outputBytes", c.format, c.width, c.height,
             c.kept_original AS "keptOriginal", r.options, 'PROCESSING' AS "requestStatus", r.total_images AS total,
             r.completed_images AS completed, r.failed_images AS failed
      FROM claimed c JOIN requests r ON r.id = c.request_id`;
    const row = rows[0];
    if (!row) return null;

    const { options, requestStatus, total, completed, failed, ...image } = row;
    return {
      image,
      options,
      requestStatus,
      counts: { requestId: image.requestId, total, completed, failed },
    };
  }

  /**
   * Records an image's outcome and counts it on its request, in one statement. Only the first
   * outcome recorded for an image counts, so a job that runs twice is counted once.
   *
   * @returns the request's counters after this image, or null when the outcome was a repeat
   */
  async finish(imageId: string, outcome: ImageOutcome): Promise<RequestCounts | null> {
    const completed = outcome.status === 'COMPLETED' ? 1 : 0;
    const rows = await this.prisma.$queryRaw<RequestCounts[]>`
      WITH done AS (
        UPDATE images SET status = ${outcome.status}::"ImageStatus",
          output_key = ${outcome.outputKey ?? null}, output_url = ${outcome.outputUrl ?? null},
          error = ${outcome.error ?? null}, input_bytes = ${outcome.inputBytes ?? null}::int,
          output_bytes = ${outcome.outputBytes ?? null}::int, format = ${outcome.format ?? null},
          width = ${outcome.width ?? null}::int, height = ${outcome.height ?? null}::int,
          kept_original = ${outcome.keptOriginal ?? null}::boolean, finished_at = now()
        WHERE id = ${imageId}::uuid AND status IN ('PENDING', 'PROCESSING')
        RETURNING request_id
      )
      UPDATE requests r
      SET completed_images = r.completed_images + ${completed}::int,
          failed_images = r.failed_images + ${1 - completed}::int, updated_at = now()
      FROM done WHERE r.id = done.request_id
      RETURNING r.id AS "requestId", r.total_images AS total,
                r.completed_images AS completed, r.failed_images AS failed`;
    return rows[0] ?? null;
  }

  /** Ids of a request's images not yet finished, in file order. */
  async listUnfinishedIds(requestId: string): Promise<string[]> {
    const rows = await this.prisma.image.findMany({
      where: { requestId, status: { in: ['PENDING', 'PROCESSING'] } },
      select: { id: true },
      orderBy: [{ product: { position: 'asc' } }, { position: 'asc' }],
    });
    return rows.map((r) => r.id);
  }
}
