import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { transformImage } from '../src/images/image.transformer.ts';
import { safeFetch } from '../src/net/safe-fetch.ts';
import { RequestByIdDocument, RequestWithProductsDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

let service: TestService;
let images: ImageServer;
let tmp: string;

beforeAll(async () => {
  // The upload library writes to os.tmpdir(); a private one shows what it leaves behind.
  tmp = await mkdtemp(path.join(os.tmpdir(), 'hardening-'));
  vi.stubEnv('TMPDIR', tmp);
  [service, images] = await Promise.all([startTestService(), startImageServer()]);
});
afterAll(async () => {
  await service.stop();
  await images.close();
  vi.unstubAllEnvs();
  await rm(tmp, { recursive: true, force: true });
});

async function post(body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${service.token()}`,
      ...headers,
    },
    body,
  });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('uploads refused before their body is read', () => {
  it('writes no temporary file for a multipart upload without a token', async () => {
    const big = `S. No.,Product Name,Input Image Urls\n${'1,A,https://x.test/a.jpg\n'.repeat(40_000)}`;

    const answers = await Promise.all(
      Array.from({ length: 5 }, () => service.upload(big, { token: null })),
    );

    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    expect((await readdir(tmp)).filter((name) => name.startsWith('capacitor'))).toEqual([]);
  });

  it('refuses a GraphQL upload whose file is not a CSV, storing nothing', async () => {
    const form = new FormData();
    form.append(
      'operations',
      JSON.stringify({
        query: 'mutation($f: Upload!) { uploadCsv(file: $f) { request { id } } }',
        variables: { f: null },
      }),
    );
    form.append('map', JSON.stringify({ 0: ['variables.f'] }));
    form.append('0', new Blob(['x'], { type: 'image/png' }), 'x.png');

    const res = await fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${service.token('pngsender')}`,
        'apollo-require-preflight': 'true',
      },
      body: form,
    });
    const body = (await res.json()) as UploadBody;

    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(/must be a CSV/);
  });
});

describe('GraphQL documents and bodies', () => {
  it('refuses a document with more aliases than allowed, before running it', async () => {
    const aliases = Array.from(
      { length: 40 },
      (_, i) => `a${i}: requests(first: 1) { edges { cursor } }`,
    );

    const answer = await post(JSON.stringify({ query: `{ ${aliases.join(' ')} }` }));

    expect(answer.text).toMatch(/alias/i);
    expect(answer.text).not.toMatch(/"data":\{/);
  });

  it('refuses a document that would load too many items, before running it', async () => {
    const nested =
      'requests(first: 100) { edges { node { products(first: 100) { edges { node { name images { inputUrl } } } } } } }';
    const aliases = Array.from({ length: 10 }, (_, i) => `a${i}: ${nested}`);

    const answer = await post(JSON.stringify({ query: `{ ${aliases.join(' ')} }` }));

    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/asks for too much at once/);
  });

  it('runs a dashboard-sized document with nested pages', async () => {
    const query =
      '{ requests(first: 20) { edges { node { id products(first: 50) { edges { node { name images { inputUrl status } } } } } } } }';

    const answer = await post(JSON.stringify({ query }));

    expect(answer.status).toBe(200);
    expect(answer.text).not.toMatch(/"errors"/);
  });

  it('answers a malformed JSON body with a GraphQL error, not an HTML page', async () => {
    const answer = await post('{"query": ');

    expect(answer.status).toBe(400);
    expect(answer.type).toMatch(/application\/json/);
    expect(JSON.parse(answer.text)).toMatchObject({
      errors: [{ extensions: { code: 'BAD_USER_INPUT' } }],
    });
  });

  it.each([
    ['a position past 32 bits', Buffer.from('9223372036854775808').toString('base64url')],
    ['a huge number', Buffer.from('1e300').toString('base64url')],
  ])('refuses a products cursor holding %s with BAD_USER_INPUT', async (_what, cursor) => {
    const res = await service.upload(
      'S. No.,Product Name,Input Image Urls\n1,A,https://x.test/a.jpg\n',
    );
    const id = ((await res.json()) as UploadBody).data?.uploadCsv.request.id ?? '';

    const answer = await service.graphql(RequestWithProductsDocument, {
      id,
      first: 1,
      after: cursor,
    });

    expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('answers an unknown route with JSON 404', async () => {
    const res = await fetch(`${service.url}/nope`);

    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('answers a missing stored file or folder with JSON 404, never a redirect or a 500', async () => {
    await mkdir(path.join(service.dataDir, 'files', 'requests', 'a-request'), { recursive: true });
    const before = service.logs().length;
    for (const url of [
      '/files/nope.jpg',
      '/files/',
      '/files/requests',
      '/files/requests/a-request',
    ]) {
      const res = await fetch(`${service.url}${url}`, { redirect: 'manual' });

      expect({ url, status: res.status }).toEqual({ url, status: 404 });
      expect(await res.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
    expect(service.logs().slice(before)).not.toContain('"level":"error"');
  });
});

describe('what the service writes', () => {
  it('writes product names that look like spreadsheet formulas as text in the output CSV', async () => {
    const csv = `S. No.,Product Name,Input Image Urls\n1,"=HYPERLINK(""http://x.test"",""x"")",${images.url}/1x1.png\n`;
    const res = await service.upload(csv);
    const id = ((await res.json()) as UploadBody).data?.uploadCsv.request.id ?? '';
    await service.waitForEnd(id);

    const { data } = await service.graphql(RequestByIdDocument, { id });
    const rows: Record<string, string>[] = parse(
      await (await fetch(data?.request?.outputCsvUrl ?? '')).text(),
      { columns: true },
    );

    expect(rows[0]?.['Product Name']).toBe(`'=HYPERLINK("http://x.test","x")`);
  });

  it('refuses a webhook URL holding control characters', async () => {
    const res = await service.upload(
      'S. No.,Product Name,Input Image Urls\n1,A,https://x.test/a.jpg\n',
      {
        variables: { webhookUrl: 'http://127.0.0.1:9/\r\nX: y' },
      },
    );
    const body = (await res.json()) as UploadBody;

    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(/control characters/);
  });
});

describe('image processing time', () => {
  it('gives up on an image that takes longer than its time limit, with a plain reason', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="5000" height="5000"><filter id="f"><feGaussianBlur stdDeviation="300"/></filter><rect width="5000" height="5000" filter="url(#f)"/></svg>',
    );

    const failure = await transformImage(svg, {
      quality: 50,
      format: 'ORIGINAL',
      keepMetadata: false,
      maxPixels: 100_000_000,
      timeoutSeconds: 1,
    }).catch((error: unknown) => error);

    expect(failure).toMatchObject({ code: 'TOO_SLOW' });
  });
});

describe('answers read only for their status', () => {
  it('keeps the first bytes of a long answer and still reports its status', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(Buffer.alloc(4 * 1024 * 1024, 'x'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const answer = await safeFetch(`http://127.0.0.1:${port}/hook`, {
      method: 'POST',
      body: Buffer.from('{}'),
      maxBytes: 1024,
      truncateBody: true,
      timeoutMs: 5_000,
      maxRedirects: 0,
      allowPrivateNetwork: true,
    }).finally(() => server.close());

    expect(answer.status).toBe(200);
    expect(answer.body).toHaveLength(1024);
  });
});

describe('rate limits', () => {
  let limited: TestService;

  beforeAll(async () => {
    limited = await startTestService({ RATE_LIMIT_UPLOADS: '2', RATE_LIMIT_REQUESTS: '50' });
  });
  afterAll(async () => {
    await limited.stop();
  });

  const csv = 'S. No.,Product Name,Input Image Urls\n1,A,https://x.test/a.jpg\n';

  it('answers the upload past the limit with RATE_LIMITED and Retry-After, over GraphQL', async () => {
    const token = limited.token('eager');
    await limited.upload(csv, { token });
    await limited.upload(csv, { token });

    const third = await limited.upload(csv, { token });
    const body = (await third.json()) as UploadBody;

    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });

  it('counts each subject apart, and REST uploads with GraphQL ones', async () => {
    const form = () => {
      const data = new FormData();
      data.append('file', new Blob([csv], { type: 'text/csv' }), 'p.csv');
      return data;
    };
    const send = (subject: string) =>
      fetch(`${limited.url}/api/upload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${limited.token(subject)}` },
        body: form(),
      });
    await limited.upload(csv, { token: limited.token('rest-user') });
    await send('rest-user');

    const over = await send('rest-user');
    const other = await send('someone-else');

    expect(over.status).toBe(429);
    expect(await over.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(other.status).toBe(202);
  });
});
