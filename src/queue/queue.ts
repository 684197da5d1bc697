/** One image to process. Its id is also the job's id: enqueueing it twice does the work once. */
export interface ImageJob {
  imageId: string;
  requestId: string;
}

/** Runs one job; a rejection means the job should be tried again later. */
export type ImageJobHandler = (job: ImageJob) => Promise<void>;

/**
 * Carries image jobs from the API to the workers. The database stays the record of what is
 * done: a queue may deliver a job more than once, and the handler makes that harmless.
 */
export interface JobQueue {
  readonly kind: 'memory' | 'bullmq';
  enqueue(jobs: readonly ImageJob[]): Promise<void>;
  /** Starts taking jobs, at most `concurrency` at once. Called once, in worker processes. */
  process(handler: ImageJobHandler, concurrency: number): void;
  /** Jobs waiting to run. */
  depth(): Promise<number>;
  ping(): Promise<void>;
  /** Stops taking jobs and waits up to `graceMs` for running ones; then closes. */
  close(graceMs: number): Promise<void>;
}
