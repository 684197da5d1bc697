import { readFile } from 'node:fs/promises';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RequestWithProductsDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { IMAGES_DIR, startImageServer } from './helpers/image-server.ts';
import type { RestClient } from './helpers/rest.ts';
import { createRestClient } from './helpers/rest.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

/**
 * Image servers that are slow, lie or fail, on loopback, behind one upload. Each case is one
 * product; the request's images are then read back with their status and reason.
 */

let service: TestService;
let images: ImageServer;
/** When each path was asked for, in ms since the epoch. */
const times = new Map<string, number[]>();

const photo = () => readFile(path.join(IMAGES_DIR, 'progressive.jpg'));

function serve(pathname: string, handler: Parameters<ImageServer['route']>[1]): void {
  images.route(pathname, (req, res) => {
    times.set(pathname, [...(times.get(pathname) ?? []), Date.now()]);
    handler(req, res);
  });
}

/** A route that answers `first` on its first hit and the photo on every later one. */
function failsOnce(pathname: string, status: number, headers: Record<string, string> = {}): void {
  serve(pathname, (req, res) => {
    if (times.get(pathname)?.length === 1) {
      res.writeHead(status, headers).end('try later');
      return;
    }
    void photo().then((body) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(body));
  });
}

function addRoutes(): void {
  serve('/jpeg-as-html', (_req, res) => {
    void photo().then((body) => res.writeHead(200, { 'content-type': 'text/html' }).end(body));
  });
  serve('/html-as-jpeg', (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end('<!DOCTYPE html><p>Sign in</p>');
  });
  serve('/truncated-body', (_req, res) => {
    void photo().then((body) => {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length });
      res.write(body.subarray(0, 1000), () => res.destroy());
    });
  });
  serve('/endless-body', (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    const chunk = Buffer.alloc(64 * 1024, 0xff);
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  });
  serve('/redirect-loop', (_req, res) => res.writeHead(302, { location: '/redirect-loop' }).end());
  failsOnce('/503-then-200', 503);
  failsOnce('/429-retry-after', 429, { 'retry-after': '2' });
  serve('/always-500', (_req, res) => res.writeHead(500).end());
  serve('/forbidden', (_req, res) => res.writeHead(403).end());
  serve('/reset', (req) => req.socket.destroy());
  serve('/never-answers', () => undefined);
  serve('/pdf', (_req, res) => res.writeHead(200).end('%PDF-1.7\n%%EOF\n'));
  serve('/noise-q20.jpg', (_req, res) => res.writeHead(200).end(noiseJpeg));
}

/** Each case: the path served, how it must end, and how many times it may be asked for. */
const CASES = [
  ['a JPEG sent as text/html', '/jpeg-as-html', 'COMPLETED', null, 1],
  ['a web page sent as image/jpeg', '/html-as-jpeg', 'FAILED', /^The URL returned a web page/, 1],
  [
    'a body cut off mid-way',
    '/truncated-body',
    'FAILED',
    /closed the connection unexpectedly; tried 3 times$/,
    3,
  ],
  ['an endless body', '/endless-body', 'FAILED', /^The file is larger than the 2 MB limit$/, 1],
  ['a redirect loop', '/redirect-loop', 'FAILED', /^The server redirected more than 3 times/, 4],
  ['503 then 200', '/503-then-200', 'COMPLETED', null, 2],
  ['429 with Retry-After: 2, then 200', '/429-retry-after', 'COMPLETED', null, 2],
  [
    '500 on every try',
    '/always-500',
    'FAILED',
    /^The image server had an error \(HTTP 500\); tried 3 times$/,
    3,
  ],
  [
    '403',
    '/forbidden',
    'FAILED',
    /^The image server refused access .*check that the URL is public$/,
    1,
  ],
  ['404', '/missing.jpg', 'FAILED', /^The image was not found at its URL \(HTTP 404\)$/, 1],
  [
    'a reset connection',
    '/reset',
    'FAILED',
    /closed the connection unexpectedly; tried 3 times$/,
    3,
  ],
  [
    'a server that never answers',
    '/never-answers',
    'FAILED',
    /^The server did not answer within 2 seconds; tried 3 times$/,
    3,
  ],
  ['a PDF', '/pdf', 'FAILED', /^PDF images are not supported; save the image as JPEG/, 1],
  [
    'a photo over the pixel limit',
    '/photo-flowers-8mp.jpg',
    'FAILED',
    /^The image is 3264×2448 pixels, over the 7 megapixel limit$/,
    1,
  ],
  ['a damaged JPEG', '/truncated.jpg', 'FAILED', /^The image is damaged or incomplete/, 1],
  ['a JPEG that re-encoding would grow (C-07)', '/noise-q20.jpg', 'COMPLETED', null, 1],
] as const;

type ImageRow = {
  inputUrl: string;
  status: string;
  error?: string | null;
  inputBytes?: number | null;
  outputBytes?: number | null;
  keptOriginal?: boolean | null;
};
let rows: ImageRow[] = [];
let requestId = '';
/** 256×256 random noise saved at quality 20: a re-encode at quality 50 is larger. */
let noiseJpeg: Buffer;

beforeAll(async () => {
  const noise = { type: 'gaussian' as const, mean: 128, sigma: 60 };
  noiseJpeg = await sharp({
    create: { width: 256, height: 256, channels: 3, background: '#808080', noise },
  })
    .jpeg({ quality: 20 })
    .toBuffer();
  [service, images] = await Promise.all([
    startTestService({
      WORKER_CONCURRENCY: '4',
      FETCH_TIMEOUT_MS: '2000',
      MAX_IMAGE_BYTES: String(2 * 1024 * 1024),
      MAX_IMAGE_PIXELS: '7000000',
    }),
    startImageServer(),
  ]);
  addRoutes();
  const csv = [
    'S. No.,Product Name,Input Image Urls',
    ...CASES.map(([, route], i) => `${i + 1},Case ${i + 1},${images.url}${route}`),
  ].join('\n');

  const body = (await (await service.upload(csv)).json()) as UploadBody;
  const id = body.data?.uploadCsv.request.id ?? '';
  requestId = id;
  await service.waitForEnd(id);
  const { data } = await service.graphql(RequestWithProductsDocument, { id, first: 100 });
  rows = data?.request?.products.edges.flatMap((e) => e.node.images) ?? [];
}, 60_000);
afterAll(async () => {
  await service.stop();
  await images.close();
});

describe('image servers that are slow, lie or fail', () => {
  it.each(CASES)('%s (%s) ends %s with a reason in words', (_what, route, status, reason) => {
    const row = rows.find((r) => r.inputUrl.endsWith(route));

    expect(row?.status).toBe(status);
    if (reason === null) expect(row?.error).toBeNull();
    else expect(row?.error).toMatch(reason);
  });

  it.each(CASES)('%s (%s) is asked for the expected number of times', (_what, route, ...rest) => {
    const tries = rest[2];

    expect(images.hits.get(route.split('?')[0] ?? route)).toBe(tries);
  });

  it('stores the downloaded bytes when re-encoding would grow them, and says so on GraphQL and REST', async () => {
    const rest: RestClient = await createRestClient(service);
    const noise = rows.find((r) => r.inputUrl.endsWith('/noise-q20.jpg'));
    const photo = rows.find((r) => r.inputUrl.endsWith('/jpeg-as-html'));
    const status = await rest.status(requestId);
    const listed = status.body.products?.flatMap((p) => p.images) ?? [];

    expect(noise).toMatchObject({ keptOriginal: true, outputBytes: noiseJpeg.length });
    expect(photo).toMatchObject({ keptOriginal: false });
    expect(listed.find((i) => i.inputUrl.endsWith('/noise-q20.jpg'))?.keptOriginal).toBe(true);
  });

  it('waits as long as Retry-After asks before trying again', () => {
    const [first = 0, second = 0] = times.get('/429-retry-after') ?? [];

    expect(second - first).toBeGreaterThanOrEqual(1900);
  });
});
