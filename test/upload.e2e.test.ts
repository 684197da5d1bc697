import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RequestByIdDocument, RequestWithProductsDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { fixtureCsv, startImageServer } from './helpers/image-server.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

let service: TestService;
let images: ImageServer;

beforeAll(async () => {
  [service, images] = await Promise.all([startTestService(), startImageServer()]);
});
afterAll(async () => {
  await service.stop();
  await images.close();
});

async function uploadSample(): Promise<string> {
  const res = await service.upload(await fixtureCsv('sample.csv', images.url), {
    fileName: 'sample.csv',
  });
  const body = (await res.json()) as UploadBody;
  expect(body.errors).toBeUndefined();
  return body.data?.uploadCsv.request.id ?? '';
}

describe('a CSV uploaded over GraphQL multipart', () => {
  let requestId: string;
  let uploadStatus: string | undefined;

  beforeAll(async () => {
    const res = await service.upload(await fixtureCsv('sample.csv', images.url), {
      fileName: 'sample.csv',
    });
    const body = (await res.json()) as UploadBody;
    requestId = body.data?.uploadCsv.request.id ?? '';
    uploadStatus = body.data?.uploadCsv.request.status;
    await service.waitForEnd(requestId);
  });

  it('comes back at once as a PENDING request with its image count', () => {
    expect(uploadStatus).toBe('PENDING');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('ends COMPLETED_WITH_ERRORS with the two broken images failed and the rest completed', async () => {
    const { data } = await service.graphql(RequestByIdDocument, { id: requestId });

    expect(data?.request?.status).toBe('COMPLETED_WITH_ERRORS');
    expect(data?.request?.progress).toEqual({
      total: 17,
      completed: 15,
      failed: 2,
      pending: 0,
      percent: 100,
    });
    expect(data?.request?.completedAt).not.toBeNull();
  });

  it('reports why each broken image failed, in plain words', async () => {
    const { data } = await service.graphql(RequestWithProductsDocument, {
      id: requestId,
      first: 20,
    });
    const broken = data?.request?.products.edges.find((e) => e.node.serialNumber === 9)?.node
      .images;

    expect(broken?.map((i) => i.status)).toEqual(['FAILED', 'FAILED']);
    expect(broken?.[0]?.error).toMatch(/damaged|incomplete/i);
    expect(broken?.[1]?.error).toMatch(/not an image/i);
  });

  it('stores every completed image where its output URL points, re-encoded in its own format', async () => {
    const { data } = await service.graphql(RequestWithProductsDocument, {
      id: requestId,
      first: 20,
    });
    const done =
      data?.request?.products.edges
        .flatMap((e) => e.node.images)
        .filter((i) => i.status === 'COMPLETED') ?? [];

    expect(done).toHaveLength(15);
    for (const image of done) {
      const res = await fetch(image.outputUrl ?? '');
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect(res.status).toBe(200);
      expect({ format: meta.format, width: meta.width }).toEqual({
        format: image.format === 'avif' ? 'heif' : image.format,
        width: image.width,
      });
    }
  });

  it('makes JPEG photos smaller than their input', async () => {
    const { data } = await service.graphql(RequestWithProductsDocument, {
      id: requestId,
      first: 20,
    });
    const photos =
      data?.request?.products.edges
        .flatMap((e) => e.node.images)
        .filter((i) => /photo-.*\.jpg$/.test(i.inputUrl)) ?? [];

    expect(photos).toHaveLength(3);
    for (const photo of photos) expect(photo.outputBytes).toBeLessThan(photo.inputBytes ?? 0);
  });

  it('applies EXIF orientation, so the rotated phone photo comes out landscape', async () => {
    const { data } = await service.graphql(RequestWithProductsDocument, {
      id: requestId,
      first: 20,
    });
    const rotated = data?.request?.products.edges
      .flatMap((e) => e.node.images)
      .find((i) => i.inputUrl.endsWith('exif-orientation-6.jpg'));
    const stored = await sharp(
      Buffer.from(await (await fetch(rotated?.outputUrl ?? '')).arrayBuffer()),
    ).metadata();

    expect({ width: rotated?.width, height: rotated?.height }).toEqual({ width: 600, height: 450 });
    expect(stored.orientation ?? 1).toBe(1);
  });

  it('writes an output CSV with the output URLs in input order and empty places for failures', async () => {
    const { data } = await service.graphql(RequestWithProductsDocument, {
      id: requestId,
      first: 20,
    });
    const csv = await (await fetch(data?.request?.outputCsvUrl ?? '')).text();
    const rows: Record<string, string>[] = parse(csv, { columns: true });
    const outputs = data?.request?.products.edges.map((e) =>
      e.node.images.map((i) => i.outputUrl ?? '').join(','),
    );

    expect(Object.keys(rows[0] ?? {})).toEqual([
      'S. No.',
      'Product Name',
      'Input Image Urls',
      'Output Image Urls',
    ]);
    expect(rows.map((r) => r['Output Image Urls'])).toEqual(outputs);
    expect(rows.find((r) => r['S. No.'] === '9')?.['Output Image Urls']).toBe(',');
  });
});

describe('reading requests', () => {
  it('pages through products with cursors, in file order', async () => {
    const id = await uploadSample();
    const first = await service.graphql(RequestWithProductsDocument, { id, first: 4 });
    const second = await service.graphql(RequestWithProductsDocument, {
      id,
      first: 10,
      after: first.data?.request?.products.pageInfo.endCursor,
    });

    expect(first.data?.request?.products.edges.map((e) => e.node.serialNumber)).toEqual([
      1, 2, 3, 4,
    ]);
    expect(first.data?.request?.products.pageInfo.hasNextPage).toBe(true);
    expect(second.data?.request?.products.edges.map((e) => e.node.serialNumber)).toEqual([
      5, 6, 7, 8, 9, 10,
    ]);
  });

  it("reads another owner's request as null, and an admin sees it", async () => {
    const id = await uploadSample();

    const other = await service.graphql(RequestByIdDocument, { id }, service.token('mallory'));
    const admin = await service.graphql(RequestByIdDocument, { id }, service.token('root', true));

    expect(other.data?.request).toBeNull();
    expect(admin.data?.request?.id).toBe(id);
  });

  it('rejects a cursor the service did not make with BAD_USER_INPUT', async () => {
    const id = await uploadSample();
    const res = await service.graphql(RequestWithProductsDocument, {
      id,
      first: 2,
      after: 'not-a-cursor',
    });

    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
