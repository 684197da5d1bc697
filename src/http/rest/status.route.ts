import { once } from 'node:events';

import type { RequestHandler, Response } from 'express';

import type { ProductWithImages, RequestRecord } from '../../domain/request.ts';
import { isTerminal, progressOf } from '../../domain/request.ts';
import { ServiceError } from '../../errors.ts';
import type { RequestService } from '../../services/request.service.ts';
import type { ObjectStorage } from '../../storage/storage.ts';
import { viewerOf } from './auth.middleware.ts';

/** Products read from the database per page while the answer streams out. */
const PAGE_SIZE = 500;

async function outputCsvUrl(
  request: RequestRecord,
  storage: ObjectStorage,
): Promise<string | null> {
  return isTerminal(request.status) && request.outputCsvKey
    ? storage.urlFor(request.outputCsvKey)
    : null;
}

function productJson(product: ProductWithImages): string {
  return JSON.stringify({
    serialNumber: product.serialNumber,
    name: product.name,
    inputImageUrls: product.images.map((i) => i.inputUrl),
    outputImageUrls: product.images.map((i) => i.outputUrl),
    images: product.images.map((i) => ({
      inputUrl: i.inputUrl,
      outputUrl: i.outputUrl,
      status: i.status,
      error: i.error,
      keptOriginal: i.keptOriginal,
    })),
  });
}

/**
 * Writes and waits for the socket to take it, so a slow reader holds at most one page.
 *
 * @returns false once the client has gone: the caller stops writing
 */
async function write(res: Response, chunk: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(chunk)) return true;

  const controller = new AbortController();
  await Promise.race([
    once(res, 'drain', { signal: controller.signal }),
    once(res, 'close', { signal: controller.signal }),
  ]).catch(() => undefined);
  controller.abort();
  return !res.destroyed;
}

/**
 * `GET /api/status/:requestId`. The products are streamed a page at a time, so a request of
 * any size is answered in constant memory.
 */
export function statusRoute(requests: RequestService, storage: ObjectStorage): RequestHandler {
  return async (req, res) => {
    const id = String(req.params.requestId);
    const request = await requests.get(viewerOf(res), id);
    if (!request) throw new ServiceError('NOT_FOUND', `No request with id ${id} was found.`);

    const head = {
      requestId: request.id,
      status: request.status,
      progress: progressOf({
        total: request.totalImages,
        completed: request.completedImages,
        failed: request.failedImages,
      }),
      createdAt: request.createdAt,
      completedAt: request.completedAt,
      outputCsvUrl: await outputCsvUrl(request, storage),
      options: request.options,
    };
    res.status(200).type('application/json');
    if (!(await write(res, `${JSON.stringify(head).slice(0, -1)},"products":[`))) return;

    let after: number | null = null;
    let first = true;
    for (;;) {
      const page = await requests.listProducts(request.id, PAGE_SIZE, after);
      for (const product of page.items) {
        if (!(await write(res, `${first ? '' : ','}${productJson(product)}`))) return;
        first = false;
      }
      const last = page.items.at(-1);
      if (!page.hasMore || !last) break;
      after = last.position;
    }
    res.end(']}');
  };
}

/** `GET /api/requests/:requestId/output.csv`: the CSV once the request has ended, 409 before. */
export function outputCsvRoute(requests: RequestService, storage: ObjectStorage): RequestHandler {
  return async (req, res) => {
    const id = String(req.params.requestId);
    const request = await requests.get(viewerOf(res), id);
    if (!request) throw new ServiceError('NOT_FOUND', `No request with id ${id} was found.`);
    if (!isTerminal(request.status) || !request.outputCsvKey) {
      res.setHeader('Retry-After', '5');
      throw new ServiceError(
        'CONFLICT',
        `Request ${id} is still ${request.status}; the output CSV is written when it ends.`,
      );
    }

    const body = await storage.get(request.outputCsvKey);
    res.status(200).type('text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${id}-output.csv"`);
    body.pipe(res);
  };
}
