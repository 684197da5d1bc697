import type { RequestRecord, TerminalStatus } from '../domain/request.ts';
import { finalStatus, isTerminal, progressOf } from '../domain/request.ts';
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

  /** Ends a request whose images are all done; does nothing while some are left. */
  async finish(requestId: string): Promise<void> {
    const request = await this.requests.findById(requestId);
    if (!request || isTerminal(request.status)) return;
    const counts = countsOf(request);
    if (counts.completed + counts.failed < counts.total) return;
    await this.end(request, finalStatus(counts));
  }

  /**
   * Ends a request at once as CANCELLED: images not started are never processed, the output CSV
   * holds what was done so far, and the webhooks follow as for any end.
   *
   * @returns the request as it now is
   */
  async cancel(request: RequestRecord): Promise<RequestRecord> {
    if (isTerminal(request.status)) return request;
    return (
      (await this.end(request, 'CANCELLED')) ??
      (await this.requests.findById(request.id)) ??
      request
    );
  }

  private async end(request: RequestRecord, status: TerminalStatus): Promise<RequestRecord | null> {
    const key = storageKeys.outputCsv(request.id);
    await this.writeOutputCsv(request.id, key);

    const ended = await this.requests.finish(
      request.id,
      { status, outputCsvKey: key, completedAt: new Date() },
      async (row) => completionPayload(row, await this.storage.urlFor(key)),
    );
    if (!ended) return null;

    const counts = countsOf(ended);
    // A cancel ends a request whose images are still running: one that finished while the file
    // was written counts on the request but is missing from it. Nothing changes after the end,
    // so the file written again now agrees with the counters and the webhook for good.
    if (!sameCounts(counts, countsOf(request))) await this.writeOutputCsv(request.id, key);
    this.logger.info('request ended', { requestId: request.id, status, ...counts });
    this.onEnded();
    await this.events.publish({
      requestId: request.id,
      status,
      progress: progressOf(counts),
      image: null,
      at: Date.now(),
    });
    return ended;
  }

  /** Writes the output CSV from the image rows as they are now, whole, under `key`. */
  private async writeOutputCsv(requestId: string, key: string): Promise<void> {
    await this.storage.put(
      key,
      outputCsvStream((first, after) => this.requests.listProducts(requestId, first, after)),
      'text/csv; charset=utf-8',
    );
  }
}

function sameCounts(a: ReturnType<typeof countsOf>, b: ReturnType<typeof countsOf>): boolean {
  return a.completed === b.completed && a.failed === b.failed;
}

function countsOf(request: RequestRecord) {
  return {
    total: request.totalImages,
    completed: request.completedImages,
    failed: request.failedImages,
  };
}
