import { finalStatus, progressOf } from '../domain/request.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../observability/logger.ts';
import type { RequestRepository } from '../repositories/request.repository.ts';
import type { ObjectStorage } from '../storage/storage.ts';
import { storageKeys } from '../storage/storage.ts';
import { outputCsvStream } from './output-csv.writer.ts';
import { completionPayload } from '../webhooks/webhook.payload.ts';

/**
 * Ends a request once all its images are done: writes the output CSV, then records the final
 * status. Safe to call more than once and from several processes: the CSV is rewritten whole
 * under the same key and only the first status change wins.
 */
export class RequestFinalizer {
  constructor(
    private readonly requests: RequestRepository,
    private readonly storage: ObjectStorage,
    private readonly events: EventBus,
    private readonly logger: Logger,
    /** Called after a request has ended, e.g. to send its webhooks without waiting for a poll. */
    private readonly onEnded: () => void = () => undefined,
  ) {}

  async finish(requestId: string): Promise<void> {
    const request = await this.requests.findById(requestId);
    if (!request) return;
    const counts = {
      total: request.totalImages,
      completed: request.completedImages,
      failed: request.failedImages,
    };
    if (counts.completed + counts.failed < counts.total) return;

    const key = storageKeys.outputCsv(requestId);
    await this.storage.put(
      key,
      outputCsvStream((first, after) => this.requests.listProducts(requestId, first, after)),
      'text/csv; charset=utf-8',
    );

    const status = finalStatus(counts);
    const ended = await this.requests.finish(
      requestId,
      { status, outputCsvKey: key, completedAt: new Date() },
      async (request) => completionPayload(request, await this.storage.urlFor(key)),
    );
    if (!ended) return;

    this.logger.info('request ended', { requestId, status, ...counts });
    this.onEnded();
    await this.events.publish({
      requestId,
      status,
      progress: progressOf(counts),
      image: null,
      at: Date.now(),
    });
  }
}
