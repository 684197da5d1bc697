import fastq from 'fastq';

import type { Logger } from '../observability/logger.ts';
import { IMAGE_PAGE_PRODUCTS } from './queue.ts';
import type { ImageJob, ImageJobHandler, JobQueue, Revived, UnfinishedImages } from './queue.ts';

/**
 * Jobs the queue keeps ready beyond those running. It reads the next page of a request's images
 * from the database when fewer are left, so a request of 300,000 images costs a page of jobs in
 * memory, not 300,000.
 */
const READY_JOBS = 256;

/** A request whose unfinished images are still to be read, after the product at `after`. */
interface Feed {
  requestId: string;
  after: number | null;
}

/**
 * The in-process queue of the one-process shape. It holds no list of its own: each request
 * queued is read from the database a page at a time, oldest request first, as jobs are taken.
 * Nothing in it survives the process: on start the service queues again every request the
 * database records as unfinished.
 */
export class MemoryQueue implements JobQueue {
  readonly kind = 'memory';
  /**
   * Two: recording an outcome is a database round trip (on the embedded database, work on the
   * thread that runs everything else), and with a second job per slot it overlaps the next
   * image's download instead of leaving the slot idle.
   */
  readonly jobsPerSlot = 2;
  private queue: fastq.queue<ImageJob> | undefined;
  private readonly feeds: Feed[] = [];
  /** Ids of the images read into jobs that have not ended, so no image runs twice at once. */
  private readonly queued = new Set<string>();
  private reading: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly images: UnfinishedImages,
    private readonly logger: Logger,
  ) {}

  /** Adds the request after those queued before it; one already being read is left as it is. */
  enqueueRequest(requestId: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The queue is closed'));
    if (!this.feeds.some((feed) => feed.requestId === requestId)) {
      this.feeds.push({ requestId, after: null });
    }
    this.readMore();
    return Promise.resolve();
  }

  /** A job that ended is out of the queue, so queueing its request again revives it; none stall. */
  async revive(requestId: string): Promise<Revived> {
    await this.enqueueRequest(requestId);
    return { retried: 0, stalled: [] };
  }

  process(handler: ImageJobHandler, concurrency: number): void {
    if (this.queue) throw new Error('MemoryQueue.process may be called once');
    // fastq's callback form: a waiting job costs one small task object, where the promise form
    // adds a promise and two closures to each.
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
            this.readMore();
          });
      });
    }, concurrency);
    this.readMore();
  }

  /** Jobs read and waiting, and the PENDING images of the requests still being read. */
  async depth(): Promise<number> {
    let pending = this.queue?.length() ?? 0;
    for (const feed of [...this.feeds]) {
      pending += await this.images.countPendingAfter(feed.requestId, feed.after);
    }
    return pending;
  }

  ping(): Promise<void> {
    return this.closed ? Promise.reject(new Error('The queue is closed')) : Promise.resolve();
  }

  async close(graceMs: number): Promise<void> {
    this.closed = true;
    const queue = this.queue;
    await this.reading;
    if (!queue) return;

    // Jobs not started stay unfinished in the database and are queued again at next start.
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

  /** Reads pages until `READY_JOBS` jobs wait or every request has been read; one read at once. */
  private readMore(): void {
    if (this.reading || this.closed || !this.queue) return;
    this.reading = this.readPages().then(
      () => {
        this.reading = undefined;
        // A request queued while the last page was read.
        if (this.wantsMore()) this.readMore();
      },
      (error: unknown) => {
        this.reading = undefined;
        // The request stays queued: the next job to end, or the recovery sweep, reads it again.
        this.logger.warn('reading queued images from the database failed', { error });
      },
    );
  }

  private wantsMore(): boolean {
    const queue = this.queue;
    return !!queue && !this.closed && this.feeds.length > 0 && queue.length() < READY_JOBS;
  }

  private async readPages(): Promise<void> {
    while (this.wantsMore()) {
      const [feed] = this.feeds;
      const queue = this.queue;
      if (!feed || !queue) return;
      const page = await this.images.pageUnfinished(
        feed.requestId,
        feed.after,
        IMAGE_PAGE_PRODUCTS,
      );
      if (this.closed) return;
      for (const imageId of page.imageIds) {
        if (this.queued.has(imageId)) continue;
        this.queued.add(imageId);
        queue.push({ imageId, requestId: feed.requestId });
      }
      feed.after = page.next;
      if (page.next === null) this.feeds.shift();
    }
  }
}
