import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { RequestWithProductsDocument, UploadCsvDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { fixtureCsv, startImageServer } from './helpers/image-server.ts';
import type { TestService, UploadBody, UploadOptions } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

let service: TestService;
let images: ImageServer;
let tmpDir: string;

// graphql-upload-ts buffers each file in `<os.tmpdir()>/capacitor-<hex>.tmp`; a private TMPDIR
// keeps other test files' uploads out of the leftover-file checks below.
beforeAll(async () => {
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'upload-rules-'));
  vi.stubEnv('TMPDIR', tmpDir);
  [service, images] = await Promise.all([startTestService(), startImageServer()]);
});
afterAll(async () => {
  await service.stop();
  await images.close();
  vi.unstubAllEnvs();
  await rm(tmpDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  text: string;
  body: UploadBody;
}

async function send(
  target: TestService,
  csv: string | Buffer,
  options: UploadOptions = {},
): Promise<Answer> {
  const res = await target.upload(csv, options);
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as UploadBody };
}

/** How many requests `subject` owns, read straight from the repository. */
async function storedFor(target: TestService, subject: string): Promise<number> {
  const page = await target.service.app.repositories.requests.list(subject, 10, null);
  return page.items.length;
}

async function productsOf(requestId: string) {
  const { data } = await service.graphql(RequestWithProductsDocument, { id: requestId, first: 20 });
  return (data?.request?.products.edges ?? []).map(({ node }) => ({
    serialNumber: node.serialNumber,
    name: node.name,
    urls: node.images.map((image) => image.inputUrl),
  }));
}

/** A valid one-product CSV whose image is quick to process. */
function tinyCsv(): string {
  return `S. No.,Product Name,Input Image Urls\n1,Dot,${images.url}/1x1.png\n`;
}

async function capacitorFiles(): Promise<string[]> {
  const entries = await readdir(os.tmpdir());
  return entries.filter((name) => name.startsWith('capacitor'));
}

/** An ASCII CSV of exactly `bytes` bytes, every row pointing at `imageUrl`. */
function csvOfSize(bytes: number, imageUrl: string): string {
  const row = (n: number, name: string) => `${n},${name},${imageUrl}\n`;
  let text = 'S. No.,Product Name,Input Image Urls\n';
  let n = 1;
  while (text.length + 2 * row(n, `Product ${n}`).length < bytes) {
    text += row(n, `Product ${n}`);
    n += 1;
  }

  const padding = bytes - text.length - row(n, `Product ${n}`).length;
  return text + row(n, `Product ${n}${'x'.repeat(padding)}`);
}

describe('CSRF prevention on multipart uploads', () => {
  it('blocks an upload sent without the apollo-require-preflight header', async () => {
    const answer = await send(service, tinyCsv(), {
      preflight: false,
      token: service.token('csrf-blocked'),
    });

    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/Cross-Site Request Forgery/);
    expect(await storedFor(service, 'csrf-blocked')).toBe(0);
  });

  it('accepts the same upload with the apollo-require-preflight header', async () => {
    const answer = await send(service, tinyCsv());

    expect(answer.status).toBe(200);
    expect(answer.body.data?.uploadCsv.request.id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('malformed GraphQL multipart requests', () => {
  const operations = JSON.stringify({
    query: 'mutation ($file: Upload!) { uploadCsv(file: $file) { request { id } } }',
    variables: { file: null },
  });
  const map = (value: object) => JSON.stringify(value);
  const csv = () => new Blob([tinyCsv()], { type: 'text/csv' });
  type Part = [name: string, value: string | Blob];

  const cases: { what: string; parts: () => Part[]; message: string }[] = [
    {
      what: 'no map field',
      parts: () => [
        ['operations', operations],
        ['0', csv()],
      ],
      message: 'The file part "0" came before "map"',
    },
    {
      what: 'no map field and no file',
      parts: () => [['operations', operations]],
      message: 'The form has no "map" field; after "operations" send {"0": ["variables.file"]}',
    },
    {
      what: 'a map naming a file that was not sent',
      parts: () => [
        ['operations', operations],
        ['map', map({ 0: ['variables.file'] })],
      ],
      message: 'The "map" field names the file part "0", but no file part of that name was sent',
    },
    {
      what: 'a file sent under a name the map does not give',
      parts: () => [
        ['operations', operations],
        ['map', map({ 0: ['variables.file'] })],
        ['csv', csv()],
      ],
      message: 'The file part "csv" is not one "map" names ("0")',
    },
    {
      what: 'two files mapped to one variable',
      parts: () => [
        ['operations', operations],
        ['map', map({ 0: ['variables.file'], 1: ['variables.file'] })],
        ['0', csv()],
        ['1', csv()],
      ],
      message: 'The "map" field names 2 file parts; uploadCsv takes exactly one CSV',
    },
    {
      what: 'a second file part after the mapped one',
      parts: () => [
        ['operations', operations],
        ['map', map({ 0: ['variables.file'] })],
        ['0', csv()],
        ['0', csv()],
      ],
      message: 'The form holds more than one file; uploadCsv takes exactly one CSV',
    },
    {
      what: 'a file field before operations',
      parts: () => [
        ['0', csv()],
        ['operations', operations],
        ['map', map({ 0: ['variables.file'] })],
      ],
      message: 'The file part "0" came before "operations"; send "operations", then "map"',
    },
    {
      what: 'operations that is not JSON',
      parts: () => [
        ['operations', '{ uploadCsv'],
        ['map', map({ 0: ['variables.file'] })],
        ['0', csv()],
      ],
      message: 'The "operations" field is not valid JSON',
    },
    {
      what: 'map before operations',
      parts: () => [
        ['map', map({ 0: ['variables.file'] })],
        ['operations', operations],
        ['0', csv()],
      ],
      message: 'The "map" field came before "operations"',
    },
  ];

  it.each(cases)(
    'refuses $what with HTTP 400 BAD_USER_INPUT saying what to fix, and stores nothing',
    async ({ what, parts, message }) => {
      const subject = `multipart-${what.replace(/\W+/g, '-')}`;
      const form = new FormData();
      for (const [name, value] of parts()) form.append(name, value);

      const res = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: {
          'apollo-require-preflight': 'true',
          authorization: `Bearer ${service.token(subject)}`,
        },
        body: form,
      });
      const body = (await res.json()) as UploadBody;

      expect([res.status, body.errors?.[0]?.extensions?.code]).toEqual([400, 'BAD_USER_INPUT']);
      expect(body.errors?.[0]?.message).toContain(message);
      expect(await storedFor(service, subject)).toBe(0);
    },
  );
});

describe('who may upload', () => {
  it('refuses an upload without a token as UNAUTHENTICATED with HTTP 401 and stores nothing', async () => {
    const before = await service.service.app.repositories.requests.list(null, 100, null);

    const answer = await send(service, tinyCsv(), {
      token: null,
    });
    const after = await service.service.app.repositories.requests.list(null, 100, null);

    expect(answer.status).toBe(401);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(after.items.map((r) => r.id)).toEqual(before.items.map((r) => r.id));
  });
});

describe('CSV validation over the upload', () => {
  it('lists every problem of invalid-rows.csv, by line and column, and stores nothing', async () => {
    const answer = await send(service, await fixtureCsv('invalid-rows.csv', images.url), {
      token: service.token('invalid-rows'),
    });
    const error = answer.body.errors?.[0];

    expect(error?.extensions?.code).toBe('CSV_INVALID');
    expect(error?.extensions?.problems?.map((p) => [p.line, p.column])).toEqual([
      [3, 'Product Name'],
      [4, 'S. No.'],
      [5, 'S. No.'],
      [6, 'Input Image Urls'],
    ]);
    expect(await storedFor(service, 'invalid-rows')).toBe(0);
  });

  it('names the expected headers when a required column is missing', async () => {
    const csv = `S. No.,Name,Input Image Urls\n1,Widget A,${images.url}/1x1.png\n`;

    const answer = await send(service, csv, { token: service.token('missing-column') });
    const problems = answer.body.errors?.[0]?.extensions?.problems ?? [];

    expect(answer.body.errors?.[0]?.extensions?.code).toBe('CSV_INVALID');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/"S\. No\.", "Product Name", "Input Image Urls"/);
  });

  it('rejects an empty file as CSV_INVALID and stores nothing', async () => {
    const answer = await send(service, '', { token: service.token('empty-file') });

    expect(answer.body.errors?.[0]?.extensions?.code).toBe('CSV_INVALID');
    expect(answer.body.errors?.[0]?.extensions?.problems?.[0]?.message).toMatch(/empty/);
    expect(await storedFor(service, 'empty-file')).toBe(0);
  });

  it('rejects a file with only a header row as CSV_INVALID and stores nothing', async () => {
    const csv = 'S. No.,Product Name,Input Image Urls\r\n';

    const answer = await send(service, csv, { token: service.token('header-only') });

    expect(answer.body.errors?.[0]?.extensions?.code).toBe('CSV_INVALID');
    expect(answer.body.errors?.[0]?.extensions?.problems?.[0]?.message).toMatch(/no product rows/);
    expect(await storedFor(service, 'header-only')).toBe(0);
  });
});

describe('CSV spellings that must be accepted', () => {
  const bom = '\uFEFF';
  const cases: { name: string; csv: (a: string, b: string) => string }[] = [
    {
      name: 'a UTF-8 BOM before the first header',
      csv: (a, b) => `${bom}S. No.,Product Name,Input Image Urls\r\n1,Widget A,"${a},${b}"\r\n`,
    },
    {
      name: 'a UTF-8 BOM before a quoted header row',
      csv: (a, b) =>
        `${bom}"S. No.","Product Name","Input Image Urls"\r\n1,Widget A,"${a},${b}"\r\n`,
    },
    {
      name: 'headers with surrounding spaces and other capitals',
      csv: (a, b) => ` S. No. , product name ,INPUT IMAGE URLS\r\n1,Widget A,"${a},${b}"\r\n`,
    },
  ];

  it.each(cases)('reads one Widget A product from $name', async ({ csv }) => {
    const [a, b] = [`${images.url}/progressive.jpg`, `${images.url}/1x1.png`];

    const answer = await send(service, csv(a, b));
    const products = await productsOf(answer.body.data?.uploadCsv.request.id ?? '');

    expect(answer.body.errors).toBeUndefined();
    expect(products).toEqual([{ serialNumber: 1, name: 'Widget A', urls: [a, b] }]);
  });

  it('reads quoted line breaks, CRLF, trailing blank lines and a comma-only row as one product', async () => {
    const [a, b] = [`${images.url}/progressive.jpg`, `${images.url}/1x1.png`];
    const csv = `S. No.,Product Name,Input Image Urls\r\n1,"Shirt, Blue\nXL","${a},\r\n${b}"\r\n\r\n\r\n,,\r\n`;

    const answer = await send(service, csv);
    const products = await productsOf(answer.body.data?.uploadCsv.request.id ?? '');

    expect(answer.body.errors).toBeUndefined();
    // Pinned: a line break inside a name becomes one space.
    expect(products).toEqual([{ serialNumber: 1, name: 'Shirt, Blue XL', urls: [a, b] }]);
    expect(products[0]?.urls.some((url) => /[\r\n ]/.test(url))).toBe(false);
  });

  it('reads an Excel export with a BOM, CRLF, quoted fields and doubled quotes', async () => {
    const answer = await send(service, await fixtureCsv('excel-export.csv', images.url));
    const products = await productsOf(answer.body.data?.uploadCsv.request.id ?? '');

    expect(answer.body.errors).toBeUndefined();
    expect(products).toEqual([
      {
        serialNumber: 1,
        name: 'Oak Table, Large',
        urls: [`${images.url}/photo-landscape-0.3mp.jpg`, `${images.url}/cmyk.jpg`],
      },
      { serialNumber: 2, name: 'Lamp "Arc"', urls: [`${images.url}/progressive.jpg`] },
    ]);
  });
});

describe('webhookUrl and processing options', () => {
  const cases: { what: string; variables: Record<string, unknown>; named: string }[] = [
    { what: 'an ftp webhookUrl', variables: { webhookUrl: 'ftp://x' }, named: 'webhookUrl' },
    {
      what: 'a webhookUrl that is no URL',
      variables: { webhookUrl: 'not a url' },
      named: 'webhookUrl',
    },
    { what: 'quality 0', variables: { options: { quality: 0 } }, named: 'quality' },
    { what: 'quality 101', variables: { options: { quality: 101 } }, named: 'quality' },
    { what: 'maxWidth -5', variables: { options: { maxWidth: -5 } }, named: 'maxWidth' },
  ];

  it.each(cases)('refuses $what with BAD_USER_INPUT naming it and stores nothing', async (c) => {
    const subject = `bad-input-${c.what.replaceAll(' ', '-')}`;

    const answer = await send(service, tinyCsv(), {
      token: service.token(subject),
      variables: c.variables,
    });

    expect(answer.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(answer.body.errors?.[0]?.message).toContain(c.named);
    expect(await storedFor(service, subject)).toBe(0);
  });
});

describe('a client that disconnects in the middle of the file', () => {
  function partialUpload(token: string): string {
    const operations = JSON.stringify({
      query: print(UploadCsvDocument),
      variables: { file: null },
    });
    const parts = [
      '--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n',
      `${operations}\r\n`,
      '--x\r\nContent-Disposition: form-data; name="map"\r\n\r\n',
      '{"0":["variables.file"]}\r\n',
      '--x\r\nContent-Disposition: form-data; name="0"; filename="cut.csv"\r\n',
      'Content-Type: text/csv\r\n\r\n',
      'S. N',
    ];
    const { host } = new URL(service.url);
    const head = [
      'POST /graphql HTTP/1.1',
      `Host: ${host}`,
      'Content-Type: multipart/form-data; boundary=x',
      'Content-Length: 100000',
      'apollo-require-preflight: true',
      `Authorization: Bearer ${token}`,
    ];
    return `${head.join('\r\n')}\r\n\r\n${parts.join('')}`;
  }

  it('leaves the process running, stores nothing, removes the temp file and takes the next upload', async () => {
    const onException = vi.fn();
    const onRejection = vi.fn();
    process.on('uncaughtException', onException);
    process.on('unhandledRejection', onRejection);
    try {
      const before = await capacitorFiles();
      const { port } = new URL(service.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write(partialUpload(service.token('cut-off')));
      // The server has reached the file part once its temp file exists.
      const tempFile = await vi.waitFor(async () => {
        const [created] = (await capacitorFiles()).filter((name) => !before.includes(name));
        expect(created).toBeDefined();
        return created;
      });

      socket.destroy();
      await closed;
      await vi.waitFor(async () => {
        expect(await capacitorFiles()).not.toContain(tempFile);
      });
      const next = await send(service, tinyCsv());

      expect(next.body.data?.uploadCsv.request.status).toBe('PENDING');
      expect(await storedFor(service, 'cut-off')).toBe(0);
      expect([onException.mock.calls, onRejection.mock.calls]).toEqual([[], []]);
    } finally {
      process.off('uncaughtException', onException);
      process.off('unhandledRejection', onRejection);
    }
  });
});

describe('the CSV size limit (MAX_CSV_BYTES=1000)', () => {
  let small: TestService;

  beforeAll(async () => {
    small = await startTestService({ MAX_CSV_BYTES: '1000' });
  });
  afterAll(async () => {
    await small.stop();
  });

  it('accepts a valid CSV of 999 bytes', async () => {
    const csv = csvOfSize(999, `${images.url}/1x1.png`);

    const answer = await send(small, csv);

    expect(Buffer.byteLength(csv)).toBe(999);
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data?.uploadCsv.request.status).toBe('PENDING');
  });

  it.each([5_000, 200_000])(
    'refuses a %i-byte CSV as PAYLOAD_TOO_LARGE without a stack trace or a stored request',
    async (bytes) => {
      const subject = `too-large-${bytes}`;
      const before = await capacitorFiles();

      const answer = await send(small, csvOfSize(bytes, `${images.url}/1x1.png`), {
        token: small.token(subject),
      });

      expect(answer.text).not.toMatch(/stacktrace/i);
      expect(await storedFor(small, subject)).toBe(0);
      await vi.waitFor(async () => {
        const after = await capacitorFiles();
        expect(after.filter((name) => !before.includes(name))).toEqual([]);
      });
      expect(answer.body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    },
  );

  it('takes a normal upload after refusing oversized ones', async () => {
    await send(small, csvOfSize(200_000, `${images.url}/1x1.png`));

    const answer = await send(small, csvOfSize(600, `${images.url}/1x1.png`));

    expect(answer.status).toBe(200);
    expect(answer.body.data?.uploadCsv.request.status).toBe('PENDING');
  });
});
