import http from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ProductSource } from '../src/csv/csv.spool.ts';
import { productsInMemory } from '../src/csv/csv.spool.ts';
import { resolveProcessingOptions } from '../src/services/processing-options.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import type { UploadAccepted } from './helpers/rest.ts';
import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import { deferred } from './helpers/ws.ts';

let service: TestService;
let images: ImageServer;

beforeAll(async () => {
  [service, images] = await Promise.all([startTestService(), startImageServer()]);
});
// The test itself stops the service.
afterAll(() => images.close());

interface Answer {
  status: number;
  body: Partial<UploadAccepted>;
}

/**
 * Posts `parts` to `/api/upload` as one body, sending each part only once the previous one is
 * out; `between` runs after the first part, once the server has parsed the request's headers
 * (the 100-continue it sends back says so).
 */
function uploadInParts(
  parts: [string, ...string[]],
  boundary: string,
  between: () => void,
): Promise<Answer> {
  const { port, hostname } = new URL(service.url);
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request({
      host: hostname,
      port,
      method: 'POST',
      path: '/api/upload',
      headers: {
        authorization: `Bearer ${service.token()}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        expect: '100-continue',
      },
    });
    req.on('continue', () => {
      const [first, ...rest] = parts;
      req.write(first, () => {
        between();
        req.end(rest.join(''));
      });
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Partial<UploadAccepted> });
      });
    });
    req.on('error', reject);
  });
}

describe('asking the service to stop while an upload is being sent', () => {
  it('answers the upload 202 with its statusUrl, the request stored and queued', async () => {
    const boundary = 'stop-during-upload';
    const csv = `S. No.,Product Name,Input Image Urls\r\n1,Dot,${images.url}/1x1.png\r\n`;
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n` +
      `Content-Type: text/csv\r\n\r\n`;
    let stopping: Promise<void> | undefined;

    const answer = await uploadInParts([head, csv, `\r\n--${boundary}--\r\n`], boundary, () => {
      stopping = service.stop();
    });
    await stopping;

    const requestId = answer.body.requestId ?? '-';
    const { port } = new URL(service.url);
    expect(answer.status).toBe(202);
    expect(answer.body.statusUrl).toBe(`http://localhost:${port}/api/status/${requestId}`);
    // Logged once its images are queued: a restart resumes it from the database.
    expect(
      service
        .logs()
        .split('\n')
        .some((line) => line.includes('request uploaded') && line.includes(requestId)),
    ).toBe(true);
  });
});

/**
 * `products` as an upload's temporary file gives them, one batch at a time; the batches after
 * the first are read only once `rest` resolves.
 */
function heldAfterFirstBatch(products: ProductSource, rest: Promise<void>): ProductSource {
  return {
    ...products,
    async *batches(size) {
      let first = true;
      for await (const batch of products.batches(size)) {
        if (!first) await rest;
        first = false;
        yield batch;
      }
    },
  };
}

describe('an upload still being stored when the service stops', () => {
  let stopped: TestService;

  beforeAll(async () => {
    stopped = await startTestService();
  });
  afterAll(() => stopped.stop());

  it('is rolled back, so that no request is kept that its client was never told of', async () => {
    const { requestService, repositories } = stopped.service.app;
    const rest = deferred();
    const products = heldAfterFirstBatch(
      productsInMemory(
        Array.from({ length: 2_500 }, (_, i) => ({
          serialNumber: i + 1,
          name: `Product ${i + 1}`,
          imageUrls: [`${images.url}/1x1.png?n=${i}`],
        })),
      ),
      rest.promise,
    );
    const storing = requestService.create({ subject: 'alice', isAdmin: false }, products, {
      fileName: 'p.csv',
      webhookUrl: null,
      options: resolveProcessingOptions(null, 50),
    });
    const outcome = storing.then(
      () => 'stored',
      (error: unknown) => (error as Error).message,
    );

    // What the service's stop does once its HTTP server has closed the upload's connection.
    const stopping = requestService.stop();
    rest.resolve();
    await stopping;

    expect(await outcome).toBe('The service is stopping; the upload was not stored');
    expect((await repositories.requests.list(null, 10, null)).items).toEqual([]);
  });
});
