import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';

import type { CsvLimits, ParsedProduct } from '../csv/csv.validator.ts';
import { parseProductCsv } from '../csv/csv.validator.ts';
import type { ProcessingOptions, ProductWithImages, RequestRecord } from '../domain/request.ts';
import type { Viewer } from '../domain/viewer.ts';
import { canSee } from '../domain/viewer.ts';
import { ServiceError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { JobQueue } from '../queue/queue.ts';
import type { RequestFinalizer } from '../processing/request.finalizer.ts';
import { findRepeats } from '../repositories/duplicate.repository.ts';
import type { DuplicateRepository } from '../repositories/duplicate.repository.ts';
import type { NewProduct, RequestRepository } from '../repositories/request.repository.ts';

export interface UploadInput {
  file: Readable;
  fileName: string | null;
  webhookUrl: string | null;
  options: ProcessingOptions;
}

/** A page of a cursor connection, before the transport turns it into edges. */
export interface Page<T> {
  items: T[];
  hasMore: boolean;
}

/** Uploading and reading requests: what GraphQL and REST both call. */
export class RequestService {
  constructor(
    private readonly requests: RequestRepository,
    private readonly queue: JobQueue,
    private readonly csvLimits: CsvLimits,
    private readonly finalizer: RequestFinalizer,
    private readonly duplicates: DuplicateRepository,
    private readonly logger: Logger,
  ) {}

  /**
   * Validates a CSV, stores it as a PENDING request with its products and images, and queues
   * the images. Nothing is stored when the file has any problem.
   *
   * @throws ServiceError `CSV_INVALID` listing every problem, or the upload stream's error
   */
  async upload(viewer: Viewer, input: UploadInput): Promise<RequestRecord> {
    const products = await this.parse(input.file);
    return this.create(viewer, products, input);
  }

  /**
   * Reads and checks a CSV as it streams in.
   *
   * @throws ServiceError `CSV_INVALID` listing every problem, or the stream's own error
   */
  async parse(file: Readable): Promise<ParsedProduct[]> {
    const parsed = await parseProductCsv(file, this.csvLimits);
    if (!parsed.ok) {
      throw new ServiceError(
        'CSV_INVALID',
        'The CSV file has problems; nothing was stored.',
        parsed.problems,
      );
    }
    return parsed.products;
  }

  /**
   * Stores checked products as a PENDING request and queues its images. A URL listed more than
   * once is processed once, and every listing gets the result.
   */
  async create(
    viewer: Viewer,
    parsed: ParsedProduct[],
    meta: Omit<UploadInput, 'file'>,
  ): Promise<RequestRecord> {
    const products: NewProduct[] = parsed.map((p, position) => ({
      id: randomUUID(),
      serialNumber: p.serialNumber,
      name: p.name,
      position,
      images: p.imageUrls.map((inputUrl, i) => ({ id: randomUUID(), position: i, inputUrl })),
    }));
    const request = await this.requests.create(
      {
        id: randomUUID(),
        ownerId: viewer.subject,
        fileName: meta.fileName,
        webhookUrl: meta.webhookUrl,
        options: meta.options,
      },
      products,
    );
    await this.queueImages(request.id, products);
    this.logger.info('request uploaded', {
      requestId: request.id,
      ownerId: request.ownerId,
      images: request.totalImages,
    });
    return request;
  }

  /**
   * Links repeated URLs and queues every image of a request just stored. When that fails (the
   * queue's Redis is away) the request is removed again before the error reaches the client:
   * a failed upload stores nothing, so a client that retries it does not get the work done
   * twice. Jobs queued before the failure then find no image and do nothing.
   */
  private async queueImages(requestId: string, products: NewProduct[]): Promise<void> {
    try {
      // Before any job runs, so a URL listed twice is never fetched twice.
      await this.duplicates.link(findRepeats(products.flatMap((p) => p.images)));
      await this.queue.enqueue(
        products.flatMap((p) => p.images.map((img) => ({ imageId: img.id, requestId }))),
      );
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
