import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { productsInMemory } from '../src/csv/csv.spool.ts';
import type { Progress } from '../src/domain/request.ts';
import { RequestByIdDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { IMAGES_DIR, startImageServer } from './helpers/image-server.ts';
import type { RestClient } from './helpers/rest.ts';
import { createRestClient, csvForm } from './helpers/rest.ts';
import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import type { Deferred } from './helpers/ws.ts';
import { deferred } from './helpers/ws.ts';

let service: TestService;
let images: ImageServer;
let rest: RestClient;

beforeAll(async () => {
  [service, images] = await Promise.all([startTestService(), startImageServer()]);
  rest = await createRestClient(service);
});
afterAll(async () => {
  await service.stop();
  await images.close();
});

/** Uploads `csv` over REST as `token`'s owner and returns the new request's id. */
async function uploadCsv(csv: string, token = service.token()): Promise<string> {
  const answer = await rest.upload(csvForm(csv), { token });
  expect(answer.status).toBe(202);
  return answer.body.requestId ?? '';
}

/** An image route that answers only once the test resolves `release`. */
interface HeldImage {
  url: string;
  /** Resolves when the service has started fetching the image. */
  reached: Promise<void>;
  release: Deferred<void>;
}

let heldCount = 0;
function holdImage(): HeldImage {
  heldCount += 1;
  const pathname = `/held-${heldCount}.png`;
  const reached = deferred();
  const release = deferred();
  images.route(pathname, (_req, res) => {
    reached.resolve();
    void release.promise
      .then(() => readFile(path.join(IMAGES_DIR, '1x1.png')))
      .then((body) => {
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length });
        res.end(body);
      })
      .catch(() => res.destroy());
  });
  return { url: `${images.url}${pathname}`, reached: reached.promise, release };
}

/** Resolves once `done` images of the request have finished, completed or failed. */
async function waitForFinished(requestId: string, done: number): Promise<void> {
  const reached = deferred();
  const off = await service.service.app.events.subscribe(requestId, (event) => {
    if (event.progress.completed + event.progress.failed >= done) reached.resolve();
  });
  const request = await service.service.app.repositories.requests.findById(requestId);
  if (request && request.completedImages + request.failedImages >= done) reached.resolve();
  await reached.promise;
  off();
}

const csvOf = (...rows: string[]) => `S. No.,Product Name,Input Image Urls\n${rows.join('\n')}\n`;

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1.0 and describes the upload, status and output CSV routes', () => {
    expect(rest.document.openapi).toBe('3.1.0');
    expect(Object.keys(rest.document.paths)).toEqual([
      '/api/upload',
      '/api/status/{requestId}',
      '/api/requests/{requestId}/output.csv',
    ]);
  });
});

describe('GET /api/status/:requestId', () => {
  it('reports an ended request with every product, its URLs in input order and null for a failed image', async () => {
    const [good, broken] = [`${images.url}/1x1.png`, `${images.url}/truncated.jpg`];
    const id = await uploadCsv(csvOf(`1,Chair,"${good},${broken}"`, `2,Stool,${good}`));
    await service.waitForEnd(id);

    const answer = await rest.status(id);
    const [chair, stool] = answer.body.products ?? [];

    expect(answer.body).toMatchObject({
      requestId: id,
      status: 'COMPLETED_WITH_ERRORS',
      progress: { total: 3, completed: 2, failed: 1, pending: 0, percent: 100 },
    });
    expect(chair?.inputImageUrls).toEqual([good, broken]);
    expect([chair?.outputImageUrls[1], chair?.images[1]?.status, stool?.images[0]?.status]).toEqual(
      [null, 'FAILED', 'COMPLETED'],
    );
  });

  it('answers 401 UNAUTHENTICATED without a token', async () => {
    const id = await uploadCsv(csvOf(`1,Chair,${images.url}/1x1.png`));

    const answer = await rest.status(id, null);

    expect(answer.status).toBe(401);
    expect(answer.body.error?.code).toBe('UNAUTHENTICATED');
  });

  it("answers 404 NOT_FOUND for another owner's request, which an admin can read", async () => {
    const id = await uploadCsv(csvOf(`1,Chair,${images.url}/1x1.png`), service.token('owner'));

    const other = await rest.status(id, service.token('mallory'));
    const admin = await rest.status(id, service.token('root', true));

    expect([other.status, other.body.error?.code]).toEqual([404, 'NOT_FOUND']);
    expect([admin.status, admin.body.requestId]).toEqual([200, id]);
  });

  it('answers 404 NOT_FOUND for an id that is not a UUID', async () => {
    const answer = await rest.status('not-a-uuid');

    expect(answer.status).toBe(404);
    expect(answer.body.error?.code).toBe('NOT_FOUND');
  });
});

describe('GET /api/requests/:requestId/output.csv', () => {
  it('answers 409 with Retry-After while the request runs, then 200 text/csv once it has ended', async () => {
    const held = holdImage();
    const id = await uploadCsv(csvOf(`1,Chair,"${images.url}/1x1.png,${held.url}"`));
    await held.reached;

    const early = await rest.outputCsv(id);
    held.release.resolve();
    await service.waitForEnd(id);
    const late = await rest.outputCsv(id);
    const rows: Record<string, string>[] = parse(late.text, { columns: true, bom: true });

    expect([early.status, early.headers.get('retry-after')]).toEqual([409, '5']);
    expect([late.status, late.headers.get('content-type')]).toEqual([
      200,
      'text/csv; charset=utf-8',
    ]);
    expect(Object.keys(rows[0] ?? {})).toEqual([
      'S. No.',
      'Product Name',
      'Input Image Urls',
      'Output Image Urls',
    ]);
  });
});

describe('GraphQL and REST read the same progress', () => {
  it('reports equal progress objects mid-way and at the end of a request', async () => {
    const held = holdImage();
    const quick = `${images.url}/1x1.png`;
    const id = await uploadCsv(csvOf(`1,Chair,"${quick},${held.url}"`, `2,Stool,${quick}`));
    await Promise.all([held.reached, waitForFinished(id, 2)]);

    const read = async (): Promise<[Progress | undefined, Progress | undefined]> => {
      const graphql = await service.graphql(RequestByIdDocument, { id });
      const status = await rest.status(id);
      return [graphql.data?.request?.progress, status.body.progress];
    };
    const midway = await read();
    held.release.resolve();
    await service.waitForEnd(id);
    const end = await read();

    expect(midway[0]).toEqual({ total: 3, completed: 2, failed: 0, pending: 1, percent: 66.67 });
    expect(midway[1]).toEqual(midway[0]);
    expect(end[1]).toEqual(end[0]);
  });
});

describe('the status of a request of 10,000 images', () => {
  /** Stores 2,000 products of 5 images each straight through the repository; nothing is queued. */
  async function storeLargeRequest(ownerId: string): Promise<string> {
    const id = randomUUID();
    const products = Array.from({ length: 2_000 }, (_, position) => ({
      serialNumber: position + 1,
      name: `Product ${position + 1}`,
      imageUrls: Array.from({ length: 5 }, (_, i) => `http://127.0.0.1:9/${position}-${i}.jpg`),
    }));
    const options = {
      quality: 50,
      format: 'ORIGINAL',
      maxWidth: null,
      maxHeight: null,
      keepMetadata: false,
    } as const;
    await service.service.app.repositories.requests.create(
      { id, ownerId, fileName: 'large.csv', webhookUrl: null, options },
      productsInMemory(products),
    );
    return id;
  }

  /** GETs a status with node:http, to see the raw framing headers. */
  function rawGet(pathname: string, token: string) {
    return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>(
      (resolve, reject) => {
        const req = http.get(
          `${service.url}${pathname}`,
          { headers: { authorization: `Bearer ${token}` } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
      },
    );
  }

  let largeId: string;
  beforeAll(async () => {
    largeId = await storeLargeRequest('bulk');
  });

  it('streams every product and image as one chunked JSON document', async () => {
    const pathname = `/api/status/${largeId}`;

    const answer = await rawGet(pathname, service.token('bulk'));
    rest.check('GET', pathname, answer.status, answer.headers['content-type'] ?? '', answer.text);
    const body = JSON.parse(answer.text) as { products: { images: unknown[] }[] };

    expect(answer.headers['transfer-encoding']).toBe('chunked');
    expect(body.products).toHaveLength(2_000);
    expect(body.products.flatMap((p) => p.images)).toHaveLength(10_000);
  });

  it('leaves no listener behind on the response for each page it waits to write', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);

    try {
      const answer = await rawGet(`/api/status/${largeId}`, service.token('bulk'));
      // Node reports a listener leak on the next turn after the listener is added.
      await new Promise((resolve) => setImmediate(resolve));

      expect(answer.status).toBe(200);
      expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
