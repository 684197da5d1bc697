import { performance } from 'node:perf_hooks';

import pLimit from 'p-limit';
import type { LimitFunction } from 'p-limit';

import type { ImageOutcome, ImageRecord, ProcessingOptions } from '../domain/request.ts';
import { progressOf } from '../domain/request.ts';
import type { EventBus } from '../events/event-bus.ts';
import { ImageTransformError, transformImage } from '../images/image.transformer.ts';
import type { Logger } from '../observability/logger.ts';
import { withLogContext } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { JobNotStartedError } from '../queue/queue.ts';
import type { ImageJob } from '../queue/queue.ts';
import type { DuplicateRepository } from '../repositories/duplicate.repository.ts';
import type {
  ClaimedImage,
  ImageRepository,
  RequestCounts,
} from '../repositories/image.repository.ts';
import { StorageError } from '../storage/storage.errors.ts';
import type { StorageErrorCode } from '../storage/storage.errors.ts';
import type { ObjectStorage } from '../storage/storage.ts';
import { storageKeys } from '../storage/storage.ts';
import { DownloadError } from './image.downloader.ts';
import type { RequestFinalizer } from './request.finalizer.ts';

export interface ImageProcessorDeps {
  images: ImageRepository;
  duplicates: DuplicateRepository;
  storage: ObjectStorage;
  events: EventBus;
  finalizer: RequestFinalizer;
  download: (url: string) => Promise<Buffer>;
  maxPixels: number;
  /**
   * Images claimed, downloaded, encoded and stored at once (`WORKER_CONCURRENCY`). The queue may
   * run more jobs than this (see `JobQueue.jobsPerSlot`); the others wait for a slot or
   * record an outcome.
   */
  concurrency: number;
  logger: Logger;
  metrics: Metrics;
}

/**
 * An outcome, and for a failure its reason as an error code (for the metrics) and the address
 * a download was refused at or could not reach (for the log; the outcome's error never has it).
 */
interface Produced {
  outcome: ImageOutcome;
  reason?: string;
  address?: string;
}

/** What the catalogue manager reads on an image whose result could not be stored. */
const STORAGE_MESSAGES: Record<StorageErrorCode, string> = {
  STORAGE_UNREACHABLE:
    'The processed image could not be stored: the storage service did not answer.',
  BUCKET_NOT_FOUND: 'The processed image could not be stored: the storage bucket does not exist.',
  OBJECT_NOT_FOUND: 'The processed image could not be stored.',
  ACCESS_DENIED: 'The processed image could not be stored: the storage service refused access.',
  STORAGE_FAILED:
    'The processed image could not be stored: the storage service answered with an error.',
};

/**
 * The error recorded on an image whose job the queue gave up on without an outcome: each run of
 * it stopped its worker (a crash, a kill, a lost machine), so running it again could stop more.
 */
export const GAVE_UP_MESSAGE =
  'The image could not be processed: its processing stopped the worker more than once, so it was not tried again.';

/** An image claimed and produced in a slot, waiting to be recorded. */
interface Taken extends Produced {
  claimed: ClaimedImage;
  durationMs: number;
}

/**
 * Processes one image job: in one of the image slots, claim, fetch, re-encode and store; then,
 * out of the slot, record, announce, and end the request when this was its last image. No
 * database transaction is open during the download or the encode. Running a job twice is
 * harmless: only the first recorded outcome counts.
 */
export class ImageProcessor {
  /** The image slots: at most `deps.concurrency` images between claim and stored file. */
  private readonly slots: LimitFunction;
  private stopping = false;
  /** Jobs waiting for a slot, each with what gives it back when the processor stops. */
  private readonly waiting = new Set<() => void>();

  constructor(private readonly deps: ImageProcessorDeps) {
    this.slots = pLimit(deps.concurrency);
  }

  /** Jobs handed over that wait for an image slot, not yet started. */
  get waitingForSlot(): number {
    return this.waiting.size;
  }

  /**
   * Starts no further image: jobs waiting for a slot, and any job handed over from now on,
   * reject with JobNotStartedError, their images untouched. Images already claimed finish.
   */
  stop(): void {
    this.stopping = true;
    for (const giveBack of [...this.waiting]) giveBack();
  }

  handle(job: ImageJob): Promise<void> {
    const fields = { requestId: job.requestId, imageId: job.imageId };
    return withLogContext(fields, () => this.run(job), false);
  }

  /**
   * Records as FAILED, with {@link GAVE_UP_MESSAGE}, an image whose job the queue will not run
   * again, copies that to its repeats, announces it, and ends the request if it was the last.
   * Without this the image would stay unfinished, and its request would never end. An image
   * that has an outcome already, or whose request has ended, is left as it is.
   */
  giveUp(job: ImageJob): Promise<void> {
    const fields = { requestId: job.requestId, imageId: job.imageId };
    return withLogContext(fields, () => this.recordGivenUp(job), false);
  }

  private async recordGivenUp(job: ImageJob): Promise<void> {
    const { images, duplicates, metrics, logger } = this.deps;
    const finished = await images.finish(job.imageId, { status: 'FAILED', error: GAVE_UP_MESSAGE });
    if (!finished) {
      await this.endIfDone(job.requestId);
      return;
    }
    const counts = (await duplicates.settleFollowers(job.imageId)) ?? finished;
    metrics.imageEnded('FAILED', 0, 'GAVE_UP');
    logger.error('image recorded as failed: its job was given up', { error: GAVE_UP_MESSAGE });
    await this.announce(job.requestId, counts, null);
  }

  private async run(job: ImageJob): Promise<void> {
    const taken = await this.inSlot(job);
    if (taken) await this.record(job, taken);
  }

  /**
   * Waits for a slot, then claims and produces the image in it. Resolves null when the image
   * needed no work (see `claimOrSettle`).
   *
   * @throws JobNotStartedError when the processor stops before the job has a slot
   */
  private inSlot(job: ImageJob): Promise<Taken | null> {
    if (this.stopping) return Promise.reject(new JobNotStartedError());
    return new Promise<Taken | null>((resolve, reject) => {
      let started = false;
      const giveBack = () => {
        if (!started) reject(new JobNotStartedError());
      };
      this.waiting.add(giveBack);
      this.slots(async () => {
        // A job given back still holds its place in the slots' queue; it passes through.
        if (this.stopping) throw new JobNotStartedError();
        started = true;
        this.waiting.delete(giveBack);
        return this.claimAndProduce(job);
      })
        .then(resolve, reject)
        .finally(() => this.waiting.delete(giveBack));
    });
  }

  private async claimAndProduce(job: ImageJob): Promise<Taken | null> {
    const claimed = await this.claimOrSettle(job);
    if (!claimed) return null;
    const started = performance.now();
    const produced = await this.produce(claimed);
    return { ...produced, claimed, durationMs: Math.round(performance.now() - started) };
  }

  /**
   * Claims the job's image and announces it. An image that needs no work of its own, a follower
   * of a repeated URL or one already done, is settled here instead.
   *
   * @returns the claimed image, or null when there is nothing to process
   */
  private async claimOrSettle(job: ImageJob): Promise<ClaimedImage | null> {
    const claimed = await this.deps.images.claim(job.imageId);
    if (!claimed) {
      // A follower of a repeated URL, or a repeat: takes its leader's result if it is ready.
      const counts = await this.deps.duplicates.settleFollowers(job.imageId);
      if (counts) await this.announce(job.requestId, counts, null);
      // A repeat may be the retry of a run whose image was recorded but whose request could not
      // end (the store was down): ending it is idempotent, so try again here.
      else await this.endIfDone(job.requestId);
      return null;
    }
    await this.deps.events.publish({
      requestId: job.requestId,
      status: claimed.requestStatus,
      progress: progressOf(claimed.counts),
      image: claimed.image,
      at: Date.now(),
    });
    return claimed;
  }

  /** Records a produced image's outcome, copies it to its repeats, and announces it. */
  private async record(
    job: ImageJob,
    { claimed, outcome, reason, address, durationMs }: Taken,
  ): Promise<void> {
    const { images, logger } = this.deps;
    const finished = await images.finish(job.imageId, outcome);
    if (!finished) {
      logger.debug('image result not recorded: recorded before, or its request has ended', {
        status: outcome.status,
        durationMs,
      });
      await this.endIfDone(job.requestId);
      return;
    }
    // Most images have no repeats; for those the copy would be a statement that finds nothing.
    const copied = claimed.hasFollowers
      ? await this.deps.duplicates.settleFollowers(job.imageId)
      : null;
    const counts = copied ?? finished;

    this.deps.metrics.imageEnded(outcome.status, durationMs / 1000, reason);
    logger.info('image processed', {
      status: outcome.status,
      durationMs,
      error: outcome.error,
      ...(address && { address }),
    });
    await this.announce(job.requestId, counts, { ...claimed.image, ...nullable(outcome) });
  }

  /** Publishes the request's new counters, and ends the request when no image is left. */
  private async announce(
    requestId: string,
    counts: RequestCounts,
    image: ImageRecord | null,
  ): Promise<void> {
    await this.deps.events.publish({
      requestId,
      status: 'PROCESSING',
      progress: progressOf(counts),
      image,
      at: Date.now(),
    });
    if (counts.completed + counts.failed === counts.total) await this.endIfDone(requestId);
  }

  /**
   * Ends the request if none of its images is left (the finalizer checks). A failure, such as
   * the store being down, rejects the job: a retrying queue runs it again, and that repeat ends
   * the request; failing that, the next start does.
   */
  private async endIfDone(requestId: string): Promise<void> {
    await withLogContext({ requestId }, () => this.deps.finalizer.finish(requestId), false).catch(
      (error: unknown) => {
        this.deps.logger.error('ending the request failed', { error });
        throw error;
      },
    );
  }

  /** Fetches, re-encodes and stores one image; every failure becomes a FAILED outcome. */
  private async produce({ image, options }: ClaimedImage): Promise<Produced> {
    let input: Buffer;
    try {
      input = await this.deps.download(image.inputUrl);
    } catch (error: unknown) {
      return this.failure(error, 'The image could not be downloaded.');
    }

    try {
      const result = await transformImage(input, {
        ...transformOptions(options),
        maxPixels: this.deps.maxPixels,
      });
      const key = storageKeys.image(image.requestId, image.id, result.extension);
      await this.deps.storage.put(key, result.data, result.contentType);
      const outcome: ImageOutcome = {
        status: 'COMPLETED',
        outputKey: key,
        outputUrl: await this.deps.storage.urlFor(key),
        inputBytes: input.length,
        outputBytes: result.data.length,
        format: result.format,
        width: result.width,
        height: result.height,
        keptOriginal: result.keptOriginal,
      };
      return { outcome };
    } catch (error: unknown) {
      const failed = this.failure(error, 'The image could not be processed.');
      return { ...failed, outcome: { ...failed.outcome, inputBytes: input.length } };
    }
  }

  private failure(error: unknown, fallback: string): Produced {
    if (error instanceof DownloadError) {
      return {
        outcome: { status: 'FAILED', error: error.message },
        reason: 'DOWNLOAD_FAILED',
        ...(error.address && { address: error.address }),
      };
    }
    if (error instanceof ImageTransformError) {
      return { outcome: { status: 'FAILED', error: error.message }, reason: error.code };
    }
    if (error instanceof StorageError) {
      this.deps.logger.error('storing the image failed', { error, code: error.code });
      const message = STORAGE_MESSAGES[error.code];
      return { outcome: { status: 'FAILED', error: message }, reason: error.code };
    }
    this.deps.logger.error('image processing failed unexpectedly', { error });
    return { outcome: { status: 'FAILED', error: fallback }, reason: 'INTERNAL' };
  }
}

function transformOptions(options: ProcessingOptions) {
  return {
    quality: options.quality,
    format: options.format,
    maxWidth: options.maxWidth,
    maxHeight: options.maxHeight,
    keepMetadata: options.keepMetadata,
  };
}

/** An outcome's fields as an image record has them (absent means null). */
function nullable(outcome: ImageOutcome): Partial<ImageRecord> {
  return {
    status: outcome.status,
    outputKey: outcome.outputKey ?? null,
    outputUrl: outcome.outputUrl ?? null,
    error: outcome.error ?? null,
    inputBytes: outcome.inputBytes ?? null,
    outputBytes: outcome.outputBytes ?? null,
    format: outcome.format ?? null,
    width: outcome.width ?? null,
    height: outcome.height ?? null,
    keptOriginal: outcome.keptOriginal ?? null,
  };
}
