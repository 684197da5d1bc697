import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../src/config.ts';
import { RequestWithProductsDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import { recordOutgoingHosts, useTestAwsCredentials } from './helpers/s3.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

/**
 * Cases C-19 and C-20: an S3-compatible store as strict as R2, B2 or an older MinIO. It refuses
 * with 501 NotImplemented any request carrying the SDK's flexible-checksum headers or a chunked
 * body, and records every request it gets.
 */
interface Seen {
  method: string;
  /** The path, without the query string the SDK adds (`?x-id=PutObject`). */
  path: string;
  headers: http.IncomingHttpHeaders;
  bytes: number;
}

const REFUSED_HEADER =
  /^x-amz-checksum-|^x-amz-sdk-checksum-algorithm$|^x-amz-decoded-content-length$/;

function refusal(headers: http.IncomingHttpHeaders): string | undefined {
  const name = Object.keys(headers).find((h) => REFUSED_HEADER.test(h));
  if (name) return `Header '${name}' with value '${String(headers[name])}' not implemented`;
  if (headers['transfer-encoding']) return 'Transfer-Encoding is not supported';
  if (/aws-chunked/.test(headers['content-encoding'] ?? '')) return 'aws-chunked is not supported';
  return undefined;
}

async function startStrictS3(): Promise<{
  port: number;
  seen: Seen[];
  close: () => Promise<void>;
}> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const bytes = Buffer.concat(chunks).length;
      const path = (req.url ?? '').split('?')[0] ?? '';
      seen.push({ method: req.method ?? '', path, headers: req.headers, bytes });
      const refused = refusal(req.headers);
      if (refused) {
        res.writeHead(501, { 'content-type': 'application/xml' });
        res.end(`<Error><Code>NotImplemented</Code><Message>${refused}</Message></Error>`);
        return;
      }
      res.writeHead(200, { etag: '"0123456789abcdef"' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

const outgoing = recordOutgoingHosts();
let strict: Awaited<ReturnType<typeof startStrictS3>>;
let images: ImageServer;
let service: TestService;

beforeAll(async () => {
  useTestAwsCredentials();
  [strict, images] = await Promise.all([startStrictS3(), startImageServer()]);
  // Reached by name, with no region set: C-20's setup.
  service = await startTestService({
    S3_BUCKET: 'imgs',
    S3_ENDPOINT: `http://localhost:${strict.port}`,
  });
});
afterAll(async () => {
  await service.stop();
  await Promise.all([strict.close(), images.close()]);
  expect(outgoing.nonLoopback()).toEqual([]);
});

describe('an image stored in a strict S3-compatible store (C-19, C-20)', () => {
  let requestId: string;
  let outputBytes: number | null | undefined;
  let imageId: string | undefined;
  let status: string | undefined;

  beforeAll(async () => {
    const csv = `S. No.,Product Name,Input Image Urls\n1,Lamp,${images.url}/photo-landscape-0.3mp.jpg\n`;
    const body = (await (await service.upload(csv)).json()) as UploadBody;
    requestId = body.data?.uploadCsv.request.id ?? '';
    await service.waitForEnd(requestId);
    const { data } = await service.graphql(RequestWithProductsDocument, { id: requestId });
    status = data?.request?.status;
    const image = data?.request?.products.edges[0]?.node.images[0];
    imageId = image?.id;
    outputBytes = image?.outputBytes;
  });

  it('completes, since no request carried checksum headers or a chunked body', () => {
    expect(status).toBe('COMPLETED');
    expect(strict.seen.filter((r) => refusal(r.headers))).toEqual([]);
  });

  it('sends the JPEG in one PUT, path style, with its length and content type', () => {
    const put = strict.seen.find((r) => r.method === 'PUT' && r.path.includes('/images/'));

    expect(put?.path).toBe(`/imgs/requests/${requestId}/images/${imageId}.jpg`);
    expect(put?.headers.host).toBe(`localhost:${strict.port}`);
    expect(put?.headers['content-type']).toBe('image/jpeg');
    expect(Number(put?.headers['content-length'])).toBe(outputBytes);
  });

  it('sends the output CSV, written as a stream, with a length and not chunked', () => {
    const put = strict.seen.find((r) => r.path === `/imgs/requests/${requestId}/output.csv`);

    expect(put?.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(Number(put?.headers['content-length'])).toBe(put?.bytes);
    expect(put?.bytes).toBeGreaterThan(0);
  });

  it('uses us-east-1 when no region is set with an endpoint, and says so at start', () => {
    const line = service
      .logs()
      .split('\n')
      .find((l) => l.includes('object storage: S3'));

    expect(line).toContain('"region":"us-east-1"');
    expect(line).toContain('"regionSource":"default for S3_ENDPOINT"');
    expect(line).toContain('"forcePathStyle":true');
  });
});

describe('path-style addressing', () => {
  it('is the default with S3_ENDPOINT, and S3_FORCE_PATH_STYLE overrides it either way', () => {
    const base = { S3_BUCKET: 'imgs' };

    const withEndpoint = loadConfig({ ...base, S3_ENDPOINT: 'http://localhost:9000' });
    const turnedOff = loadConfig({
      ...base,
      S3_ENDPOINT: 'http://localhost:9000',
      S3_FORCE_PATH_STYLE: 'false',
    });
    const onAws = loadConfig({ ...base, S3_FORCE_PATH_STYLE: 'true' });

    expect(withEndpoint.storage.s3?.forcePathStyle).toBe(true);
    expect(turnedOff.storage.s3?.forcePathStyle).toBe(false);
    expect(onAws.storage.s3?.forcePathStyle).toBe(true);
  });
});
