import fastq from 'fastq';

import type { ImageJob, ImageJobHandler, JobQueue, Revived } from './queue.ts';

/**
 * The in-process queue of the one-process shape. Nothing in it survives the process: on start
 * the service enqueues again every image the database records as unfinished.
 */
export class MemoryQueue implements JobQueue {
  readonly kind = 'memory';
  private queue: fastq.queueAsPromised<ImageJob> | undefined;
  private readonly backlog: ImageJob[] = [];
  private readonly queued = new Set<string>();
  private closed = false;

  enqueue(jobs: readonly ImageJob[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The queue is closed'));
    for (const job of jobs) {
      if (this.queued.has(job.imageId)) continue;
      this.queued.add(job.imageId);
      if (this.queue) this.push(job);
      else this.backlog.push(job);
    }
    return Promise.resolve();
  }

  /** A job that ended is out of the queue, so enqueueing it again revives it; none stall. */
  async revive(jobs: readonly ImageJob[]): Promise<Revived> {
    await this.enqueue(jobs);
    return { retried: 0, stalled: [] };
  }

  process(handler: ImageJobHandler, concurrency: number): void {
    if (this.queue) throw new Error('MemoryQueue.process may be called once');
    this.queue = fastq.promise(async (job: ImageJob) => {
      try {
        await handler(job);
      } finally {
        this.queued.delete(job.imageId);
      }
    }, concurrency);
    for (const job of this.backlog.splice(0)) this.push(job);
  }

  depth(): Promise<number> {
    return Promise.resolve((this.queue?.length() ?? 0) + this.backlog.length);
  }

  ping(): Promise<void> {
    return this.closed ? Promise.reject(new Error('The queue is closed')) : Promise.resolve();
  }

  async close(graceMs: number): Promise<void> {
    this.closed = true;
    const queue = this.queue;
    if (!queue) return;

    // Jobs not started stay unfinished in the database and are enqueued again at next start.
    queue.pause();
    queue.kill();
    if (queue.running() === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      queue.drained(),
      new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
  }

  private push(job: ImageJob): void {
    // Failures are the handler's to record; a rejection here only means "try again later".
    this.queue?.push(job).catch(() => undefined);
  }
}
