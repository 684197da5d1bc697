import type { PrismaClient } from '../generated/prisma/client.ts';
import type { ImageOutcome, ImageRecord, RequestRecord } from '../domain/request.ts';
import type { ProcessingOptions } from '../domain/request.ts';

/** Counters of a request right after one of its images finished. */
export interface RequestCounts {
  requestId: string;
  total: number;
  completed: number;
  failed: number;
}

/** An image taken for processing, with what its request asked for. */
export interface ClaimedImage {
  image: ImageRecord;
  options: ProcessingOptions;
}

/** Image rows: taking one for work, and recording what became of it exactly once. */
export class ImageRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Marks an image PROCESSING if it is still to do and its request still runs. An image found
   * PROCESSING is taken again: its earlier worker died (delivery is at least once).
   *
   * @returns null when there is nothing to do: the image is finished or its request has ended
   */
  async claim(imageId: string): Promise<ClaimedImage | null> {
    const { count } = await this.prisma.image.updateMany({
      where: {
        id: imageId,
        status: { in: ['PENDING', 'PROCESSING'] },
        request: { status: { in: ['PENDING', 'PROCESSING'] } },
      },
      data: { status: 'PROCESSING', attempts: { increment: 1 }, startedAt: new Date() },
    });
    if (count === 0) return null;

    const row = await this.prisma.image.findUniqueOrThrow({
      where: { id: imageId },
      include: { request: { select: { options: true } } },
    });
    const { request, ...image } = row;
    return { image, options: request.options as unknown as ProcessingOptions };
  }

  /**
   * Records an image's outcome and counts it on its request, in one short transaction. Only
   * the first outcome recorded for an image counts, so a job that runs twice is counted once.
   *
   * @returns the request's counters after this image, or null when the outcome was a repeat
   */
  async finish(imageId: string, outcome: ImageOutcome): Promise<RequestCounts | null> {
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.image.updateMany({
        where: { id: imageId, status: { in: ['PENDING', 'PROCESSING'] } },
        data: { ...outcome, finishedAt: new Date() },
      });
      if (count === 0) return null;

      const { requestId } = await tx.image.findUniqueOrThrow({
        where: { id: imageId },
        select: { requestId: true },
      });
      const counter = outcome.status === 'COMPLETED' ? 'completedImages' : 'failedImages';
      const request = await tx.request.update({
        where: { id: requestId },
        data: { [counter]: { increment: 1 } },
        select: { totalImages: true, completedImages: true, failedImages: true },
      });
      return {
        requestId,
        total: request.totalImages,
        completed: request.completedImages,
        failed: request.failedImages,
      };
    });
  }

  async findById(imageId: string): Promise<ImageRecord | null> {
    return this.prisma.image.findUnique({ where: { id: imageId } });
  }

  /** Ids of a request's images not yet finished, in file order. */
  async listUnfinishedIds(requestId: string): Promise<string[]> {
    const rows = await this.prisma.image.findMany({
      where: { requestId, status: { in: ['PENDING', 'PROCESSING'] } },
      select: { id: true },
      orderBy: [{ product: { position: 'asc' } }, { position: 'asc' }],
    });
    return rows.map((r) => r.id);
  }

  /** The request an image belongs to. */
  async findRequest(imageId: string): Promise<RequestRecord | null> {
    const row = await this.prisma.image.findUnique({
      where: { id: imageId },
      select: { request: true },
    });
    return row && { ...row.request, options: row.request.options as unknown as ProcessingOptions };
  }
}
