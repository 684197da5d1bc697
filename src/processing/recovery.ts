import type { Logger } from '../observability/logger.ts';
import type { ImageJob, JobQueue } from '../queue/queue.ts';
import type { ImageRepository } from '../repositories/image.repository.ts';
import type { RequestRepository } from '../repositories/request.repository.ts';
import type { RequestFinalizer } from './request.finalizer.ts';

/** How long a request's row must stay unchanged before the sweep looks at it (ms). */
export const RECOVERY_QUIET_MS = 2 * 60_000;
/** Pause between two sweeps (ms). */
export const RECOVERY_INTERVAL_MS = 45_000;

export interface RecoveryOptions {
  /**
   * How long a request must have been quiet (its row unchanged) before it is swept, and how
   * long this process then leaves it alone, in ms.
   *
   * @defaultValue RECOVERY_QUIET_MS
   */
  quietMs?: number;
  /**
   * Pause between the end of one sweep and the start of the next, in ms.
   *
   * @defaultValue RECOVERY_INTERVAL_MS
   */
  intervalMs?: number;
}

export interface RecoveryDeps {
  requests: RequestRepository;
  images: ImageRepository;
  queue: JobQueue;
  finalizer: RequestFinalizer;
  /** Records as failed an image whose job the queue will not run again (ImageProcessor.giveUp). */
  giveUp: (job: ImageJob) => Promise<void>;
  logger: Logger;
}

/**
 * Makes sure that work the database records as unfinished has a live job to do it.
 *
 * The database is the record of what is done; the queue only carries work, and it can lose
 * some: jobs give up while the database is away for longer than their retries, and an API
 * process killed while enqueueing a large upload leaves images with no job at all. Nothing
 * else would bring them back, and their requests would stay unfinished for good. So every
 * worker process sweeps now and then: each request that has not ended and has been quiet for
 * a while gets its missing jobs added and its failed ones retried, while the images of jobs that
 * stalled too often (they likely kill workers) are recorded as failed, so the request ends. The
 * first sweep, at start, takes every unfinished request: what a crash or a stop left behind.
 *
 * Every step is idempotent (a job's id is its image's id, a retry of a job already retried does
 * nothing, a request ends once), so several processes may sweep at once. Each remembers what
 * it swept, so a request merely waiting behind others costs one look per quiet period.
 */
export class RecoverySweep {
  /** When this process last swept each request (ms since the epoch). */
  private readonly lastSwept = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Aborted at stop: a request being revived page by page is left at the page under way. */
  private readonly stopping = new AbortController();

  constructor(private readonly deps: RecoveryDeps) {}

  /** Whether {@link stop} has been called. */
  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /**
   * Sweeps every unfinished request, then the quiet ones every `intervalMs`.
   *
   * @throws when the first sweep cannot list the unfinished requests (the database is away)
   */
  async start(options: RecoveryOptions = {}): Promise<void> {
    const quietMs = options.quietMs ?? RECOVERY_QUIET_MS;
    const intervalMs = options.intervalMs ?? RECOVERY_INTERVAL_MS;

    await this.sweep(0, quietMs);
    this.schedule(intervalMs, quietMs);
  }

  /**
   * Stops the timer and waits for a sweep under way, which ends at the page of images it is
   * queueing: a request of 100,000 images would otherwise hold the stop past its grace period.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(intervalMs: number, quietMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweep(quietMs, quietMs)
        .catch((error: unknown) => {
          this.deps.logger.warn('recovery sweep failed; trying again later', { error });
        })
        .finally(() => {
          this.running = undefined;
          this.schedule(intervalMs, quietMs);
        });
    }, intervalMs);
    // A pending sweep is no reason to stay up.
    this.timer.unref();
  }

  /**
   * Recovers each unfinished request quiet for `quietMs`, but those this process swept less
   * than `skipMs` ago.
   */
  private async sweep(quietMs: number, skipMs: number): Promise<void> {
    const now = Date.now();
    const quietSince = quietMs > 0 ? new Date(now - quietMs) : undefined;
    const requests = await this.deps.requests.listUnfinished(quietSince);
    const ids = new Set(requests.map((request) => request.id));
    for (const id of this.lastSwept.keys()) if (!ids.has(id)) this.lastSwept.delete(id);

    for (const { id } of requests) {
      if (this.stopped) return;
      const last = this.lastSwept.get(id);
      if (last !== undefined && now - last < skipMs) continue;
      if (await this.recover(id)) this.lastSwept.set(id, now);
    }
  }

  /** @returns false when the request could not be recovered this time (logged) */
  private async recover(requestId: string): Promise<boolean> {
    const { images, queue, finalizer, giveUp, logger } = this.deps;
    try {
      // Its last image was recorded, but the request could not end then.
      if (!(await images.hasUnfinished(requestId))) {
        await finalizer.finish(requestId);
        return true;
      }

      const revived = await queue.revive(requestId, this.stopping.signal);
      // Cut short by a stop: the next start's sweep takes the request whole.
      if (this.stopped) return false;
      logger.info('resuming request', { requestId, retried: revived.retried });
      for (const imageId of revived.stalled) {
        logger.error('image job stalled too often; recording the image as failed', {
          requestId,
          imageId,
        });
        await giveUp({ imageId, requestId });
      }
      return true;
    } catch (error: unknown) {
      logger.warn('request could not be recovered; trying again later', { requestId, error });
      return false;
    }
  }
}
