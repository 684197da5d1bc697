import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import type { ImageServer } from './helpers/image-server.ts';
import { fixtureCsv, startImageServer } from './helpers/image-server.ts';
import type { RestClient } from './helpers/rest.ts';
import { createRestClient, csvForm } from './helpers/rest.ts';
import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

let service: TestService;
let small: TestService;
let images: ImageServer;
let rest: RestClient;
let smallRest: RestClient;
let tmpDir: string;
let tmpEntries: string[];

// The REST path streams the file into the parser, which writes the checked products to a file in
// TMPDIR until they are stored; a private TMPDIR shows that every upload, refused, cut off or
// stored, deletes its file (the services' own data directories are made in it before the
// snapshot is taken).
beforeAll(async () => {
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'rest-upload-'));
  vi.stubEnv('TMPDIR', tmpDir);
  [service, small, images] = await Promise.all([
    startTestService(),
    startTestService({ MAX_CSV_BYTES: '1000' }),
    startImageServer(),
  ]);
  [rest, smallRest] = await Promise.all([createRestClient(service), createRestClient(small)]);
  tmpEntries = await readdir(tmpDir);
});
afterAll(async () => {
  await Promise.all([service.stop(), small.stop(), images.close()]);
  vi.unstubAllEnvs();
  await rm(tmpDir, { recursive: true, force: true });
});

/** How many requests `subject` owns, read straight from the repository. */
async function storedFor(subject: string, target = service): Promise<number> {
  const page = await target.service.app.repositories.requests.list(subject, 10, null);
  return page.items.length;
}

/** A valid one-product CSV whose image is quick to process. */
function tinyCsv(): string {
  return `S. No.,Product Name,Input Image Urls\n1,Dot,${images.url}/1x1.png\n`;
}

/** An ASCII CSV of exactly `bytes` bytes, every row pointing at the 1×1 PNG. */
function csvOfSize(bytes: number): string {
  const row = (n: number, name: string) => `${n},${name},${images.url}/1x1.png\n`;
  let text = 'S. No.,Product Name,Input Image Urls\n';
  let n = 1;
  while (text.length + 2 * row(n, `Product ${n}`).length < bytes) {
    text += row(n, `Product ${n}`);
    n += 1;
  }

  const padding = bytes - text.length - row(n, `Product ${n}`).length;
  return text + row(n, `Product ${n}${'x'.repeat(padding)}`);
}

describe('POST /api/upload', () => {
  it('answers 202 with the request id, PENDING and a statusUrl that the Location header repeats', async () => {
    const answer = await rest.upload(csvForm(tinyCsv()));

    expect([answer.status, answer.body.status]).toEqual([202, 'PENDING']);
    expect(answer.body.statusUrl).toMatch(
      new RegExp(`/api/status/${answer.body.requestId ?? '-'}$`),
    );
    expect(answer.headers.get('location')).toBe(answer.body.statusUrl);
  });

  it('logs the upload with its request id, as a GraphQL upload is logged', async () => {
    const answer = await rest.upload(csvForm(tinyCsv()));
    const requestId = answer.body.requestId ?? '-';

    const logged = service
      .logs()
      .split('\n')
      .filter((line) => line.includes('request uploaded') && line.includes(requestId));
    expect(logged).toHaveLength(1);
  });

  it('refuses an upload without a token with 401 UNAUTHENTICATED and stores nothing', async () => {
    const before = await storedFor('alice');

    const answer = await rest.upload(csvForm(tinyCsv()), { token: null });

    expect(answer.status).toBe(401);
    expect(answer.body.error?.code).toBe('UNAUTHENTICATED');
    expect(await storedFor('alice')).toBe(before);
  });

  it('lists every problem of invalid-rows.csv with 400 CSV_INVALID and stores nothing', async () => {
    const csv = await fixtureCsv('invalid-rows.csv', images.url);

    const answer = await rest.upload(csvForm(csv), { token: service.token('invalid-rows') });

    expect([answer.status, answer.body.error?.code]).toEqual([400, 'CSV_INVALID']);
    expect(answer.body.error?.problems?.map((p) => [p.line, p.column])).toEqual([
      [3, 'Product Name'],
      [4, 'S. No.'],
      [5, 'S. No.'],
      [6, 'Input Image Urls'],
    ]);
    expect(await storedFor('invalid-rows')).toBe(0);
  });
});

describe('multipart bodies the upload refuses', () => {
  const multipart = { 'content-type': 'multipart/form-data; boundary=x' };
  const cases: {
    what: string;
    body: () => FormData | string;
    headers?: Record<string, string>;
    message: RegExp;
  }[] = [
    {
      what: 'no file field, only webhookUrl',
      body: () => {
        const form = new FormData();
        form.append('webhookUrl', 'https://example.org/hook');
        return form;
      },
      message: /^No file was sent; put the CSV in a field named "file"\.$/,
    },
    {
      what: 'two files',
      body: () => {
        const form = csvForm(tinyCsv());
        form.append('file', new Blob([tinyCsv()], { type: 'text/csv' }), 'second.csv');
        return form;
      },
      message: /^The form holds more than one file; send exactly one CSV, in the field "file"\.$/,
    },
    {
      what: 'the file in a field named "csv"',
      body: () => csvForm(tinyCsv(), {}, { field: 'csv' }),
      message: /^The file was sent in a field named "csv"; send the CSV in a field named "file"\.$/,
    },
    {
      what: 'the CSV as a text field named "file"',
      body: () => {
        const form = new FormData();
        form.append('file', tinyCsv());
        return form;
      },
      message: /^The field "file" was sent as text, not as a file; attach the CSV as a file/,
    },
    {
      what: 'a PNG instead of a CSV',
      body: () => csvForm(tinyCsv(), {}, { type: 'image/png', name: 'products.png' }),
      message: /must be a CSV/,
    },
    {
      what: 'a JSON body',
      body: () => JSON.stringify({ file: tinyCsv() }),
      headers: { 'content-type': 'application/json' },
      message: /multipart\/form-data/,
    },
    {
      what: 'an empty multipart body',
      body: () => '',
      headers: multipart,
      message: /incomplete or malformed/,
    },
  ];

  it.each(cases)('refuses $what with 400 BAD_USER_INPUT and stores nothing', async (c) => {
    const subject = `refused-${c.what.replace(/\W+/g, '-')}`;

    const answer = await rest.upload(c.body(), {
      headers: c.headers,
      token: service.token(subject),
    });

    expect([answer.status, answer.body.error?.code]).toEqual([400, 'BAD_USER_INPUT']);
    expect(answer.body.error?.message).toMatch(c.message);
    expect(await storedFor(subject)).toBe(0);
  });
});

describe('a client that disconnects in the middle of the file', () => {
  function partialUpload(token: string): string {
    const { host } = new URL(service.url);
    const head = [
      'POST /api/upload HTTP/1.1',
      `Host: ${host}`,
      'Content-Type: multipart/form-data; boundary=x',
      'Content-Length: 100000',
      `Authorization: Bearer ${token}`,
    ];
    const part = [
      '--x\r\nContent-Disposition: form-data; name="file"; filename="cut.csv"\r\n',
      'Content-Type: text/csv\r\n\r\n',
      'S. N',
    ];
    return `${head.join('\r\n')}\r\n\r\n${part.join('')}`;
  }

  it('leaves the process running, stores nothing and takes the next upload', async () => {
    const onException = vi.fn();
    const onRejection = vi.fn();
    process.on('uncaughtException', onException);
    process.on('unhandledRejection', onRejection);
    try {
      const parse = vi.spyOn(service.service.app.requestService, 'parse');
      const { port } = new URL(service.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write(partialUpload(service.token('cut-off')));
      // The server has reached the file part once it hands the stream to the CSV parser.
      await vi.waitFor(() => {
        expect(parse).toHaveBeenCalled();
      });
      parse.mockRestore();

      socket.destroy();
      await closed;

      const next = await rest.upload(csvForm(tinyCsv()));

      expect(next.status).toBe(202);
      expect(await storedFor('cut-off')).toBe(0);
      expect([onException.mock.calls, onRejection.mock.calls]).toEqual([[], []]);
    } finally {
      process.off('uncaughtException', onException);
      process.off('unhandledRejection', onRejection);
    }
  });
});

describe('the CSV size limit (MAX_CSV_BYTES=1000)', () => {
  it('accepts a valid CSV of 999 bytes', async () => {
    const csv = csvOfSize(999);

    const answer = await smallRest.upload(csvForm(csv));

    expect(Buffer.byteLength(csv)).toBe(999);
    expect([answer.status, answer.body.status]).toEqual([202, 'PENDING']);
  });

  it.each([5_000, 200_000])(
    'refuses a %i-byte CSV with 413 PAYLOAD_TOO_LARGE and stores nothing',
    async (bytes) => {
      const subject = `too-large-${bytes}`;

      const answer = await smallRest.upload(csvForm(csvOfSize(bytes)), {
        token: small.token(subject),
      });

      expect([answer.status, answer.body.error?.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
      expect(answer.body.error?.message).toContain('1000 byte');
      expect(await storedFor(subject, small)).toBe(0);
    },
  );

  it('takes a normal upload after refusing an oversized one', async () => {
    await smallRest.upload(csvForm(csvOfSize(200_000)));

    const answer = await smallRest.upload(csvForm(csvOfSize(600)));

    expect([answer.status, answer.body.status]).toEqual([202, 'PENDING']);
  });
});

describe('uploads as curl sends them', () => {
  async function productsOf(requestId: string) {
    const answer = await rest.status(requestId);
    return (answer.body.products ?? []).map((p) => ({
      serialNumber: p.serialNumber,
      name: p.name,
      urls: p.inputImageUrls,
    }));
  }

  it('reads a CRLF file with a quoted, comma-and-space separated URL list', async () => {
    const [a, b] = [`${images.url}/progressive.jpg`, `${images.url}/1x1.png`];
    const csv = `S. No.,Product Name,Input Image Urls\r\n1,Widget,"${a}, ${b}"\r\n2,Gadget,${b}\r\n`;

    const answer = await rest.upload(csvForm(csv));
    const products = await productsOf(answer.body.requestId ?? '');

    expect(answer.status).toBe(202);
    expect(products).toEqual([
      { serialNumber: 1, name: 'Widget', urls: [a, b] },
      { serialNumber: 2, name: 'Gadget', urls: [b] },
    ]);
  });

  it('reads the Excel export with its BOM, CRLF and quoted fields', async () => {
    const csv = await fixtureCsv('excel-export.csv', images.url);

    const answer = await rest.upload(csvForm(csv));
    const products = await productsOf(answer.body.requestId ?? '');

    expect(answer.status).toBe(202);
    expect(products).toEqual([
      {
        serialNumber: 1,
        name: 'Oak Table, Large',
        urls: [`${images.url}/photo-landscape-0.3mp.jpg`, `${images.url}/cmyk.jpg`],
      },
      { serialNumber: 2, name: 'Lamp "Arc"', urls: [`${images.url}/progressive.jpg`] },
    ]);
  });

  it('accepts a .csv file sent as application/octet-stream', async () => {
    const form = csvForm(tinyCsv(), {}, { type: 'application/octet-stream', name: 'export.csv' });

    const answer = await rest.upload(form);

    expect([answer.status, answer.body.status]).toEqual([202, 'PENDING']);
  });

  it('stores quality and format sent as form fields', async () => {
    const answer = await rest.upload(csvForm(tinyCsv(), { quality: '80', format: 'WEBP' }));
    const stored = await service.service.app.repositories.requests.findById(
      answer.body.requestId ?? '',
    );

    expect(answer.status).toBe(202);
    expect(stored?.options).toMatchObject({ quality: 80, format: 'WEBP' });
  });

  it('refuses quality=0 with 400 naming quality and stores nothing', async () => {
    const form = csvForm(tinyCsv(), { quality: '0' });

    const answer = await rest.upload(form, { token: service.token('quality-zero') });

    expect([answer.status, answer.body.error?.code]).toEqual([400, 'BAD_USER_INPUT']);
    expect(answer.body.error?.message).toMatch(/quality/);
    expect(await storedFor('quality-zero')).toBe(0);
  });
});

describe('temporary files', () => {
  // Runs last: every upload above, refused or not, went through the streaming path.
  it('leaves nothing new in the temporary directory after all the uploads above', async () => {
    const entries = await readdir(tmpDir);

    expect(entries.sort()).toEqual([...tmpEntries].sort());
  });
});
