/**
 * `npm run demo`: the main job end to end on this machine. Starts the service on an ephemeral
 * port with its embedded defaults, serves the bundled sample images on loopback, uploads a
 * sample CSV through the public GraphQL API, prints live progress, and ends with the output
 * CSV's path and a summary.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { signToken } from '../auth/jwt.ts';
import { loadConfigWith } from '../config.ts';
import { createLogger } from '../observability/logger.ts';
import { startService } from '../service.ts';
import { storageKeys } from '../storage/storage.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLES = path.join(ROOT, 'test/fixtures');
const TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.tiff': 'image/tiff',
  '.svg': 'image/svg+xml',
};

interface ImageRow {
  inputUrl: string;
  status: string;
  error: string | null;
  inputBytes: number | null;
  outputBytes: number | null;
  format: string | null;
}
interface RequestView {
  status: string;
  outputCsvUrl: string | null;
  progress: { total: number; completed: number; failed: number; percent: number };
  products: { edges: { node: { serialNumber: number; name: string; images: ImageRow[] } }[] };
}

/** Serves the sample images on 127.0.0.1, as an image host on the internet would. */
async function serveSamples(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const file = path.join(SAMPLES, 'images', path.basename(req.url ?? ''));
    readFile(file).then(
      (body) =>
        res
          .writeHead(200, {
            'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
          })
          .end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function graphql<T>(
  url: string,
  token: string,
  query: string,
  variables: object,
): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
  if (!body.data)
    throw new Error(body.errors?.map((e) => e.message).join('; ') ?? `HTTP ${res.status}`);
  return body.data;
}

async function upload(url: string, token: string, csv: string): Promise<string> {
  const form = new FormData();
  form.append(
    'operations',
    JSON.stringify({
      query: 'mutation($file: Upload!) { uploadCsv(file: $file) { request { id } } }',
      variables: { file: null },
    }),
  );
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([csv], { type: 'text/csv' }), 'sample.csv');
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
    body: form,
  });
  const body = (await res.json()) as {
    data?: { uploadCsv: { request: { id: string } } };
    errors?: { message: string }[];
  };
  if (!body.data) throw new Error(`upload failed: ${JSON.stringify(body.errors)}`);
  return body.data.uploadCsv.request.id;
}

const STATUS_QUERY = `query($id: ID!) { request(id: $id) { status outputCsvUrl progress { total completed failed percent }
  products(first: 100) { edges { node { serialNumber name images { inputUrl status error inputBytes outputBytes format } } } } } }`;

function bar(percent: number): string {
  const filled = Math.round(percent / 5);
  return `[${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] ${percent.toFixed(0).padStart(3)}%`;
}

function summary(view: RequestView): string {
  const images = view.products.edges.flatMap((e) => e.node.images);
  const done = images.filter((i) => i.status === 'COMPLETED');
  const bytesIn = done.reduce((n, i) => n + (i.inputBytes ?? 0), 0);
  const bytesOut = done.reduce((n, i) => n + (i.outputBytes ?? 0), 0);
  const lines = view.products.edges.flatMap(({ node }) => [
    `  ${String(node.serialNumber).padStart(2)}. ${node.name}`,
    ...node.images.map((i) => {
      const name = path.basename(new URL(i.inputUrl).pathname);
      return i.status === 'COMPLETED'
        ? `      ${name.padEnd(28)} ${kb(i.inputBytes)} -> ${kb(i.outputBytes)} ${i.format ?? ''}`
        : `      ${name.padEnd(28)} FAILED: ${i.error ?? ''}`;
    }),
  ]);
  return [
    ...lines,
    '',
    `${done.length} of ${images.length} images processed, ${images.length - done.length} failed;`,
    `${kb(bytesIn)} in, ${kb(bytesOut)} out (${(100 - (bytesOut / Math.max(bytesIn, 1)) * 100).toFixed(0)}% smaller).`,
  ].join('\n');
}

function kb(bytes: number | null): string {
  return `${((bytes ?? 0) / 1024).toFixed(0).padStart(5)} KB`;
}

async function main(): Promise<void> {
  const samples = await serveSamples();
  const base = `http://127.0.0.1:${(samples.address() as AddressInfo).port}`;
  const config = loadConfigWith(
    { DATA_DIR: path.join('data', 'demo'), LOG_LEVEL: 'warn' },
    { PORT: '0', ALLOW_PRIVATE_NETWORK: 'true' },
  );
  const service = await startService(config, createLogger(config.log));
  const url = service.url;
  const token = signToken(service.jwtSecret ?? '', 'demo');
  console.log(`Service on ${url}, sample images on ${base}, data in ${config.dataDir}`);

  const csv = (await readFile(path.join(SAMPLES, 'csv', 'sample.csv'), 'utf8')).replaceAll(
    '{base}',
    base,
  );
  const id = await upload(url, token, csv);
  console.log(`Uploaded sample.csv as request ${id}`);

  let view: RequestView;
  for (;;) {
    ({ request: view } = await graphql<{ request: RequestView }>(url, token, STATUS_QUERY, { id }));
    const p = view.progress;
    process.stdout.write(
      `\r${bar(p.percent)}  ${p.completed} done, ${p.failed} failed of ${p.total}  ${view.status.padEnd(22)}`,
    );
    if (!['PENDING', 'PROCESSING'].includes(view.status)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  console.log(`\n\n${summary(view)}\n`);
  console.log(`Output CSV: ${path.join(config.storage.filesDir, storageKeys.outputCsv(id))}`);
  console.log(`       URL: ${view.outputCsvUrl ?? '(none)'} (served while the service runs)`);
  await service.stop();
  samples.close();
}

await main();
