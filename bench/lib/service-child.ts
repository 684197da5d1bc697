import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { deferred, within } from '../../test/helpers/ws.ts';
import type { ServerStats } from '../service.server.ts';
import { ROOT } from './spawn.ts';

const PHOTO = path.join(ROOT, 'test', 'fixtures', 'images', 'photo-landscape-0.3mp.jpg');

/** The service running in a child process (bench/service.server.ts), with its control port. */
export interface ChildService {
  url: string;
  controlUrl: string;
  token: string;
  child: ChildProcess;
}

/**
 * Starts bench/service.server.ts, with `env` added to its configuration, and resolves once it
 * listens. `script` names another server of the same conventions in bench/ (stack-floor.server.ts).
 */
export async function startChild(
  env: Record<string, string> = {},
  script = 'service.server.ts',
): Promise<ChildService> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', path.join('bench', script), JSON.stringify(env)],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const first = new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => {
      reject(new Error(`the service child ended with code ${String(code)} before it listened`));
    });
  });
  const ready = JSON.parse(await within(first, 60_000, 'the service child')) as ChildService;
  return { ...ready, child };
}

/** Closes the child's standard input, its signal to stop; kills it if it has not ended in 30 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdin?.end();
  try {
    await within(exited, 30_000, 'the service child to stop');
  } catch (error: unknown) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** A GET on the child's control server, its JSON answer. */
export async function control<T>(service: ChildService, pathAndQuery: string): Promise<T> {
  const res = await fetch(`${service.controlUrl}${pathAndQuery}`);
  return (await res.json()) as T;
}

/**
 * The child's memory once it has stopped moving: read every 500 ms until two readings of RSS
 * are within 1 % of each other (at most 20 readings), since the allocator hands pages back late.
 */
export async function settledStats(service: ChildService): Promise<ServerStats> {
  let last = await control<ServerStats>(service, '/stats');
  for (let reading = 1; reading < 20; reading++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const next = await control<ServerStats>(service, '/stats');
    if (Math.abs(next.rss - last.rss) < last.rss / 100) return next;
    last = next;
  }
  return last;
}

/** A loopback photo server that answers nothing until `open()`: images wait in the worker. */
export interface GatedPhotoServer {
  url: string;
  open(): void;
  close(): void;
}

/** Serves one fixture photo at `/photo.jpg?n=…`, holding every answer until `open()`. */
export async function startGatedPhotoServer(): Promise<GatedPhotoServer> {
  const body = await readFile(PHOTO);
  const gate = deferred();
  const server = http.createServer((_req, res) => {
    void gate.promise.then(() =>
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length }).end(body),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    open: gate.resolve,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * Uploads a CSV of `images` URLs on `photoUrl` (three a row) through GraphQL, resolving with
 * the new request's id.
 */
export async function uploadPhotos(
  service: ChildService,
  photoUrl: string,
  images: number,
): Promise<string> {
  const urls = Array.from({ length: images }, (_, i) => `${photoUrl}/photo.jpg?n=${i}`);
  const rows = ['S. No.,Product Name,Input Image Urls'];
  for (let i = 0; i < urls.length; i += 3) {
    rows.push(`${rows.length},Product ${rows.length},"${urls.slice(i, i + 3).join(', ')}"`);
  }
  const form = new FormData();
  form.append(
    'operations',
    JSON.stringify({
      query: 'mutation($file: Upload!) { uploadCsv(file: $file) { request { id } } }',
      variables: { file: null },
    }),
  );
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([rows.join('\n')], { type: 'text/csv' }), 'bench.csv');

  const res = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${service.token}`, 'apollo-require-preflight': 'true' },
    body: form,
  });
  const body = (await res.json()) as { data?: { uploadCsv: { request: { id: string } } } };
  if (!body.data) throw new Error(`upload failed: ${JSON.stringify(body)}`);
  return body.data.uploadCsv.request.id;
}
