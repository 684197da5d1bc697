import fastq from 'fastq';

import type { ImageJob, ImageJobHandler, JobQueue, Revived } from './queue.ts';

/**
 * The in-process queue of the one-process shape. Nothing in it survives the process: on start
 * the service enqueues again every image the database records as unfinished.
 */
export class MemoryQueue implements JobQueue {
  readonly kind = 'memory';
  private queue: fastq.queue<ImageJob> | undefined;
  private readonly backlog: ImageJob[] = [];
  private readonly queued = new Set<string>();
  private closed = false;

  enqueue(jobs: readonly ImageJob[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The queue is closed'));
    for (const job of jobs) {
      if (this.queued.has(job.imageId)) continue;
      this.queued.add(job.imageId);
      if (this.queue) this.queue.push(job);
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
    // fastq's callback form: a waiting job costs one small task object, where the promise form
    // adds a promise and two closures to each, some 7 MB for a request of 30,000 images.
    this.queue = fastq((job: ImageJob, done: fastq.done) => {
      // Each job starts on a turn of the event loop of its own. A job that needs no I/O (an
      // address refused before any connection, on the embedded database, which answers through
      // promises alone) would otherwise start the next one in the same turn, and a request of
      // such images would hold HTTP requests, timers and signals until the last one had run.
      setImmediate(() => {
        // Failures are the handler's to record; a rejection here only means "try again later".
        handler(job)
          .catch(() => undefined)
          .finally(() => {
            this.queued.delete(job.imageId);
            done(null);
          });
      });
    }, concurrency);
    for (const job of this.backlog.splice(0)) this.queue.push(job);
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
    await new Promise<void>((resolve) => {
      queue.drain = resolve;
      timer = setTimeout(resolve, graceMs);
    });
    clearTimeout(timer);
  }
}
