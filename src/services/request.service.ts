import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';

import { ProductSpool } from '../csv/csv.spool.ts';
import type { ProductSource } from '../csv/csv.spool.ts';
import type { CsvLimits } from '../csv/csv.validator.ts';
import { readProductCsv } from '../csv/csv.validator.ts';
import type { ProcessingOptions, ProductWithImages, RequestRecord } from '../domain/request.ts';
import type { Viewer } from '../domain/viewer.ts';
import { canSee } from '../domain/viewer.ts';
import { ServiceError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { JobQueue } from '../queue/queue.ts';
import type { RequestFinalizer } from '../processing/request.finalizer.ts';
import type { RequestRepository } from '../repositories/request.repository.ts';

export interface UploadInput {
  file: Readable;
  fileName: string | null;
  webhookUrl: string | null;
  options: ProcessingOptions;
}

/**
 * A CSV that passed every check, its products waiting in a temporary file to be stored. Whoever
 * parsed it discards it once stored, or once it will not be.
 */
export interface CheckedCsv {
  products: ProductSource;
  discard(): Promise<void>;
}

/** A page of a cursor connection, before the transport turns it into edges. */
export interface Page<T> {
  items: T[];
  hasMore: boolean;
}

/** Uploading and reading requests: what GraphQL and REST both call. */
export class RequestService {
  /** Aborted by {@link stop}: uploads still being stored then are rolled back. */
  private readonly stopping = new AbortController();
  /** Uploads being stored, so that a stop can wait for them to commit or roll back. */
  private readonly storing = new Set<Promise<unknown>>();

  constructor(
    private readonly requests: RequestRepository,
    private readonly queue: JobQueue,
    private readonly csvLimits: CsvLimits,
    private readonly finalizer: RequestFinalizer,
    private readonly logger: Logger,
  ) {}

  /**
   * Reads and checks a CSV as it streams in, writing its products to a temporary file as they
   * pass, so that however large the file, only a batch of it is ever in memory.
   *
   * @throws ServiceError `CSV_INVALID` listing every problem, or the stream's own error
   */
  async parse(file: Readable): Promise<CheckedCsv> {
    const spool = new ProductSpool();
    try {
      const parsed = await readProductCsv(file, this.csvLimits, spool);
      if (!parsed.ok) {
        throw new ServiceError(
          'CSV_INVALID',
          'The CSV file has problems; nothing was stored.',
          parsed.problems,
        );
      }
      return { products: await spool.close(), discard: () => spool.discard() };
    } catch (error: unknown) {
      // A failed write also fails the reading: the cause to report is the write's.
      const cause = spool.writeError ?? error;
      await spool.discard();
      throw cause;
    }
  }

  /**
   * Stores checked products as a PENDING request and queues its images. A URL listed more than
   * once is processed once, and every listing gets the result.
   */
  async create(
    viewer: Viewer,
    products: ProductSource,
    meta: Omit<UploadInput, 'file'>,
  ): Promise<RequestRecord> {
    const storing = this.requests.create(
      {
        id: randomUUID(),
        ownerId: viewer.subject,
        fileName: meta.fileName,
        webhookUrl: meta.webhookUrl,
        options: meta.options,
      },
      products,
      this.stopping.signal,
    );
    this.storing.add(storing);
    const request = await storing.finally(() => this.storing.delete(storing));
    await this.queueImages(request.id);
    this.logger.info('request uploaded', {
      requestId: request.id,
      ownerId: request.ownerId,
      images: request.totalImages,
    });
    return request;
  }

  /**
   * Queues the images of a request just stored (on BullMQ the first page of them before the
   * answer, the rest after it: see BullMqQueue.enqueueRequest). When that fails (the queue's
   * Redis is away) the request is removed again before the error reaches the client: a failed
   * upload stores nothing, so a client that retries it does not get the work done twice. Jobs
   * queued before the failure then find no image and do nothing.
   */
  private async queueImages(requestId: string): Promise<void> {
    try {
      await this.queue.enqueueRequest(requestId);
    } catch (error: unknown) {
      await this.requests.remove(requestId).catch((removal: unknown) => {
        // Left PENDING, the request is resumed at the next start: done once, not lost.
        this.logger.error('removing an upload whose images could not be queued failed', {
          requestId,
          error: removal,
        });
      });
      throw error;
    }
  }

  /**
   * Called once the HTTP server has closed its connections, when the clients of uploads still
   * being stored can no longer be answered: those uploads are rolled back (at their next batch,
   * or before their commit), so that none is kept, and processed, without its client having
   * been told. Resolves once each has committed or rolled back, before the database closes.
   */
  async stop(): Promise<void> {
    this.stopping.abort(new Error('The service is stopping; the upload was not stored'));
    await Promise.allSettled(this.storing);
  }

  /** A request the viewer may see, or null: another owner's request reads as missing. */
  async get(viewer: Viewer, id: string): Promise<RequestRecord | null> {
    if (!isUuid(id)) return null;
    const request = await this.requests.findById(id);
    return request && canSee(viewer, request.ownerId) ? request : null;
  }

  /** Like `get`, but a missing request is a NOT_FOUND error. */
  async require(viewer: Viewer, id: string): Promise<RequestRecord> {
    const request = await this.get(viewer, id);
    if (!request) throw new ServiceError('NOT_FOUND', `No request with id ${id} was found.`);
    return request;
  }

  /**
   * Cancels a running request: images not yet started are not processed, and it ends CANCELLED
   * with its output CSV and webhooks. A request that has already ended is returned as it is.
   *
   * @throws ServiceError `NOT_FOUND` when the request is not the viewer's
   */
  async cancel(viewer: Viewer, id: string): Promise<RequestRecord> {
    return this.finalizer.cancel(await this.require(viewer, id));
  }

  /** The viewer's requests (every owner's for an admin), newest first. */
  async list(
    viewer: Viewer,
    first: number,
    after: { createdAt: Date; id: string } | null,
  ): Promise<Page<RequestRecord>> {
    return this.requests.list(viewer.isAdmin ? null : viewer.subject, first, after);
  }

  /** A page of a request's products, in file order. The caller has checked access. */
  async listProducts(
    requestId: string,
    first: number,
    afterPosition: number | null,
  ): Promise<Page<ProductWithImages>> {
    return this.requests.listProducts(requestId, first, afterPosition);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
