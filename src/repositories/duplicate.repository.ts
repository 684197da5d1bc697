import type { SqlRunner } from '../db/database.ts';
import type { RequestCounts } from './image.repository.ts';

/** One repeat of a URL: the image and the leader whose result it takes. */
export interface ImageLink {
  imageId: string;
  leaderId: string;
}

/** Links a statement carries; two array parameters each, whatever the count. */
const LINK_BATCH = 5_000;

/**
 * Every listing of a URL after its first, with the first as its leader, in file order. Costs
 * nothing in the database when no URL repeats, which is the usual case.
 */
export function findRepeats(images: Iterable<{ id: string; inputUrl: string }>): ImageLink[] {
  const leaders = new Map<string, string>();
  const links: ImageLink[] = [];
  for (const image of images) {
    const leaderId = leaders.get(image.inputUrl);
    if (leaderId === undefined) leaders.set(image.inputUrl, image.id);
    else links.push({ imageId: image.id, leaderId });
  }
  return links;
}

/**
 * The same URL listed several times in one request is downloaded and processed once. Each
 * distinct URL has a _leader_ image (its first listing in the file); the others are its
 * _followers_. Followers are never claimed: when the leader is done its result is copied to
 * them. The decision lives in the database, so it holds whatever the queue and however many
 * worker processes there are.
 */
export class DuplicateRepository {
  /** Runs on the driver: `link` carries thousands of values (see `TransactionRunner`). */
  constructor(private readonly sql: SqlRunner) {}

  /**
   * Points each follower at its leader, `LINK_BATCH` rows a statement. Run once, after the
   * request is stored and before its images are queued; running it again changes nothing.
   *
   * @param links - follower and leader ids, as {@link findRepeats} gives them
   */
  async link(links: readonly ImageLink[]): Promise<void> {
    for (let i = 0; i < links.length; i += LINK_BATCH) {
      const batch = links.slice(i, i + LINK_BATCH);
      await this.sql(
        `UPDATE images i SET leader_id = u.leader_id
         FROM unnest($1::uuid[], $2::uuid[]) AS u(id, leader_id)
         WHERE i.id = u.id AND i.leader_id IS NULL`,
        [batch.map((l) => l.imageId), batch.map((l) => l.leaderId)],
      );
    }
  }

  /**
   * Copies a finished leader's result to its unfinished followers and counts them on the
   * request, in one statement. `imageId` may be the leader or any follower; nothing happens
   * while the leader is unfinished, when it has no followers left, or once the request has
   * ended. Safe to run at the same time from several processes: each follower counts once.
   *
   * @returns the request's counters after the copy, or null when nothing was copied
   */
  async settleFollowers(imageId: string): Promise<RequestCounts | null> {
    const rows = await this.sql<RequestCounts>(
      `
      WITH leader AS (
        SELECT l.* FROM images l
        WHERE l.id = (SELECT coalesce(leader_id, id) FROM images WHERE id = $1::uuid)
          AND l.status IN ('COMPLETED', 'FAILED')
      ), live AS (
        -- Locked first, so a cancel that commits meanwhile is seen (as in finishing an image).
        SELECT r.id FROM requests r
        WHERE r.id = (SELECT request_id FROM leader)
          AND r.status IN ('PENDING', 'PROCESSING')
        FOR UPDATE
      ), copied AS (
        UPDATE images f SET status = l.status, output_key = l.output_key,
          output_url = l.output_url, error = l.error, input_bytes = l.input_bytes,
          output_bytes = l.output_bytes, format = l.format, width = l.width, height = l.height,
          kept_original = l.kept_original, finished_at = now()
        FROM leader l
        WHERE f.leader_id = l.id AND f.status IN ('PENDING', 'PROCESSING')
          AND f.request_id IN (SELECT id FROM live)
        RETURNING f.request_id, f.status
      )
      UPDATE requests r
      SET completed_images = r.completed_images
            + (SELECT count(*) FROM copied WHERE status = 'COMPLETED')::int,
          failed_images = r.failed_images
            + (SELECT count(*) FROM copied WHERE status = 'FAILED')::int,
          updated_at = now()
      WHERE r.id = (SELECT request_id FROM copied LIMIT 1)
      RETURNING r.id AS "requestId", r.total_images AS total,
                r.completed_images AS completed, r.failed_images AS failed`,
      [imageId],
    );
    return rows[0] ?? null;
  }
}
