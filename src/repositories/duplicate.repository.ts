import type { SqlRunner } from '../db/database.ts';
import type { RequestCounts } from './image.repository.ts';

/**
 * The same URL listed several times in one request is downloaded and processed once. Each
 * distinct URL has a _leader_ image (its first listing in the file); the others are its
 * _followers_. Followers are never claimed: when the leader is done its result is copied to
 * them. The decision lives in the database, so it holds whatever the queue and however many
 * worker processes there are.
 */
export class DuplicateRepository {
  constructor(private readonly sql: SqlRunner) {}

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
