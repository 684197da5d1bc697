/** One image to process. Its id is also the job's id: enqueueing it twice does the work once. */
export interface ImageJob {
  imageId: string;
  requestId: string;
}

/** What `JobQueue.revive` did besides adding missing jobs. */
export interface Revived {
  retried: number;
  stalled: string[];
}

/**
 * Runs one job; a rejection means the job should be tried again later, and a rejection with
 * {@link JobNotStartedError} that it was given back untouched.
 */
export type ImageJobHandler = (job: ImageJob) => Promise<void>;

/**
 * A handler's answer for a job it gave back without starting it (its worker is stopping). The
 * queue returns the job to the waiting list for another worker, counting no attempt; the
 * in-process queue drops it, and the next start enqueues its unfinished image again.
 */
export class JobNotStartedError extends Error {
  constructor() {
    super('The worker is stopping: the job was given back without being started');
    this.name = 'JobNotStartedError';
  }
}

/** A page of a request's unfinished images: see `ImageRepository.pageUnfinished`. */
export interface UnfinishedPage {
  imageIds: string[];
  next: number | null;
}

/**
 * Where a queue reads a stored request's unfinished images, a page at a time in file order, so
 * that no process holds a job for every image of a large request at once.
 */
export interface UnfinishedImages {
  /** See `ImageRepository.pageUnfinished`. */
  pageUnfinished(
    requestId: string,
    after: number | null,
    products: number,
  ): Promise<UnfinishedPage>;
  /** See `ImageRepository.countPendingAfter`. */
  countPendingAfter(requestId: string, after: number | null): Promise<number>;
}

/** Products whose unfinished images a queue reads from the database in one page. */
export const IMAGE_PAGE_PRODUCTS = 500;

/**
 * Carries image jobs from the API to the workers. The database stays the record of what is
 * done: a queue may deliver a job more than once, and the handler makes that harmless.
 */
export interface JobQueue {
  readonly kind: 'memory' | 'bullmq';
  /**
   * Jobs a worker takes at once for each of its image slots (`WORKER_CONCURRENCY`, see
   * ImageProcessor). An image holds a slot while it is claimed, downloaded, encoded and stored;
   * its outcome is recorded after that, out of the slot. A job waiting for a slot has not
   * claimed its image, which reads PENDING meanwhile.
   */
  readonly jobsPerSlot: number;
  /**
   * Queues every unfinished image of a stored request, reading them from the database a page at
   * a time (see {@link UnfinishedImages}). Rejects when the queue cannot take the request at
   * all; may resolve before its last page is queued (each queue says when), the recovery sweep
   * being the backstop for pages a failure or a stop leaves unqueued.
   */
  enqueueRequest(requestId: string): Promise<void>;
  /**
   * Makes sure each unfinished image of a request has a live job: adds those the queue has lost
   * and gives those that spent their retries a fresh round. Safe to call from several processes
   * at once.
   *
   * @param stop - when aborted, reviving ends at the end of the page under way (a stop), the
   * rest left to the next sweep
   * @returns how many failed jobs were retried, and the ids of the images whose jobs were left
   * failed because they stalled too often (they likely kill workers, so they are not retried:
   * the caller records those images as failed)
   */
  revive(requestId: string, stop?: AbortSignal): Promise<Revived>;
  /** Starts taking jobs, at most `concurrency` at once. Called once, in worker processes. */
  process(handler: ImageJobHandler, concurrency: number): void;
  /** Jobs waiting to run. */
  depth(): Promise<number>;
  ping(): Promise<void>;
  /** Stops taking jobs and waits up to `graceMs` for running ones; then closes. */
  close(graceMs: number): Promise<void>;
}
