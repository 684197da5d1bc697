/**
 * Live progress with many subscribers: `node --import tsx bench/subscriptions.ts
 * [--clients 1000] [--images 200]`.
 *
 * Starts the service in a child process (bench/subscriptions.server.ts) so that its memory is
 * measured apart from the clients, uploads one request of photos served on loopback and held
 * back until every client is subscribed, opens the graphql-ws clients on it, then lets the
 * photos through. Prints one line per figure and writes bench/results/subscriptions.json.
 *
 * Delay is from an event's publication (`at`, stamped by the processor) to its arrival at a
 * client, both read from this machine's clock; it includes the coalescing hold (up to 200 ms).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import type { ProgressPayload, ProgressSubscription, WsClient } from '../test/helpers/ws.ts';
import { connectClient, deferred, within } from '../test/helpers/ws.ts';
import { machineInfo, writeResult } from './lib/results.ts';
import { ROOT } from './lib/spawn.ts';
import type { PublishedEvent, ServerStats } from './subscriptions.server.ts';

const PHOTO = path.join(ROOT, 'test', 'fixtures', 'images', 'photo-landscape-0.3mp.jpg');
/** Clients opened at once while subscribing; more makes the handshakes queue on the backlog. */
const OPEN_BATCH = 100;

interface ChildService {
  url: string;
  controlUrl: string;
  token: string;
  child: ChildProcess;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function options(): { clients: number; images: number } {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '1000' },
      images: { type: 'string', default: '200' },
    },
  });
  const clients = Number(values.clients);
  const images = Number(values.images);
  if (!Number.isInteger(clients) || clients < 1 || !Number.isInteger(images) || images < 1) {
    throw new Error('--clients and --images take positive whole numbers');
  }
  return { clients, images };
}

/** Serves the photo at `/photo.jpg?n=…`, answering nothing until `open()`. */
async function startGatedPhotoServer() {
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

async function startChild(): Promise<ChildService> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', path.join('bench', 'subscriptions.server.ts')],
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
async function stopChild(child: ChildProcess): Promise<void> {
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

async function control<T>(service: ChildService, pathAndQuery: string): Promise<T> {
  const res = await fetch(`${service.controlUrl}${pathAndQuery}`);
  return (await res.json()) as T;
}

async function upload(service: ChildService, photoUrl: string, images: number): Promise<string> {
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

/**
 * The child's memory once it has stopped moving: read every 500 ms until two readings of RSS
 * are within 1 % of each other (at most 20 readings), since the allocator hands pages back late.
 */
async function settledStats(service: ChildService): Promise<ServerStats> {
  let last = await control<ServerStats>(service, '/stats');
  for (let reading = 1; reading < 20; reading++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const next = await control<ServerStats>(service, '/stats');
    if (Math.abs(next.rss - last.rss) < last.rss / 100) return next;
    last = next;
  }
  return last;
}

/** Opens `count` clients subscribed to one request, a batch at a time, each with its first event. */
async function subscribeClients(service: ChildService, requestId: string, count: number) {
  const clients: WsClient[] = [];
  const subscriptions: ProgressSubscription[] = [];
  for (let opened = 0; opened < count; opened += OPEN_BATCH) {
    const batch = Array.from({ length: Math.min(OPEN_BATCH, count - opened) }, () =>
      connectClient(service.url, `Bearer ${service.token}`),
    );
    clients.push(...batch);
    const subscribed = batch.map((c) => c.subscribe(requestId));
    subscriptions.push(...subscribed);
    await within(Promise.all(subscribed.map((s) => s.firstEvent)), 60_000, 'first events');
  }
  return { clients, subscriptions };
}

/** What links a delivered event to the publication it stems from; null for a snapshot. */
function eventKey(event: Pick<ProgressPayload, 'status'> & Pick<PublishedEvent, 'image'>) {
  if (event.image) return `${event.image.id}:${event.image.status}`;
  return event.status === 'PENDING' || event.status === 'PROCESSING' ? null : 'terminal';
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Delays (ms) from publication to arrival, over every keyed event of every subscriber. */
function delays(subscriptions: readonly ProgressSubscription[], published: PublishedEvent[]) {
  const publishedAt = new Map<string, number>();
  for (const event of published) {
    const key = eventKey(event);
    if (key && !publishedAt.has(key)) publishedAt.set(key, event.at);
  }
  const all: number[] = [];
  const terminal: number[] = [];
  for (const subscription of subscriptions) {
    for (const { data, receivedAt } of subscription.events) {
      const key = eventKey(data);
      const at = key === null ? undefined : publishedAt.get(key);
      if (at === undefined) continue;
      all.push(receivedAt - at);
      if (key === 'terminal') terminal.push(receivedAt - at);
    }
  }
  return { all: all.sort((a, b) => a - b), terminal: terminal.sort((a, b) => a - b) };
}

const kb = (bytes: number) => Math.round(bytes / 102.4) / 10;
const mb = (bytes: number) => Math.round(bytes / 104_857.6) / 10;

type Figures = Awaited<ReturnType<typeof measure>>;

/** Runs the scenario on a started child; `clients` collects every client opened, to close. */
async function measure(
  service: ChildService,
  photos: { url: string; open: () => void },
  { clients: clientCount, images }: { clients: number; images: number },
  clients: WsClient[],
) {
  const requestId = await upload(service, photos.url, images);
  await control(service, `/watch?requestId=${requestId}`);
  // A first round of clients, closed again, so that code compiled and buffers grown on first
  // use are not counted per connection.
  const warmUp = await subscribeClients(service, requestId, Math.min(100, clientCount));
  clients.push(...warmUp.clients);
  await Promise.all(warmUp.clients.map((c) => c.dispose()));
  const before = await settledStats(service);

  const subscribing = Date.now();
  const { subscriptions, ...opened } = await subscribeClients(service, requestId, clientCount);
  clients.push(...opened.clients);
  const subscribeSeconds = (Date.now() - subscribing) / 1000;
  const withClients = await settledStats(service);

  const opening = Date.now();
  photos.open();
  const ends = await Promise.allSettled(subscriptions.map((s) => within(s.done, 300_000, 'end')));
  const processSeconds = (Date.now() - opening) / 1000;

  const delay = delays(subscriptions, await control<PublishedEvent[]>(service, '/published'));
  const events = subscriptions.reduce((n, s) => n + s.events.length, 0);
  return {
    clients: clientCount,
    images,
    subscribeSeconds,
    processSeconds,
    terminalReceived: ends.filter(
      (e) => e.status === 'fulfilled' && e.value.at(-1)?.data.status === 'COMPLETED',
    ).length,
    eventsPerSubscriber: Math.round((events / clientCount) * 10) / 10,
    delayMs: {
      p50: percentile(delay.all, 50),
      p99: percentile(delay.all, 99),
      n: delay.all.length,
    },
    terminalDelayMs: { p50: percentile(delay.terminal, 50), p99: percentile(delay.terminal, 99) },
    serverRssMB: { before: mb(before.rss), withClients: mb(withClients.rss) },
    perConnectionKB: {
      rss: kb((withClients.rss - before.rss) / clientCount),
      heapUsed: kb((withClients.heapUsed - before.heapUsed) / clientCount),
    },
  };
}

function report(f: Figures): void {
  print(`subscriptions: ${f.clients} graphql-ws clients on one request of ${f.images} photos`);
  print(`all clients subscribed, first event each, in ${f.subscribeSeconds.toFixed(1)} s`);
  print(`terminal event received by ${f.terminalReceived}/${f.clients} subscribers`);
  print(`photos let through to the last terminal event: ${f.processSeconds.toFixed(1)} s`);
  print(`events per subscriber: ${f.eventsPerSubscriber}`);
  print(`delay, publication to delivery: p50 ${f.delayMs.p50} ms, p99 ${f.delayMs.p99} ms`);
  print(
    `delay of the terminal event: p50 ${f.terminalDelayMs.p50} ms, p99 ${f.terminalDelayMs.p99} ms`,
  );
  print(
    `server RSS: ${f.serverRssMB.before} MB idle, ${f.serverRssMB.withClients} MB with clients`,
  );
  print(
    `server memory per connection: ${f.perConnectionKB.rss} KB RSS, ${f.perConnectionKB.heapUsed} KB heap`,
  );
}

async function main(): Promise<void> {
  const args = options();
  const started = Date.now();
  const photos = await startGatedPhotoServer();
  const service = await startChild();
  const clients: WsClient[] = [];

  try {
    const figures = await measure(service, photos, args, clients);
    report(figures);

    const seconds = Math.round((Date.now() - started) / 1000);
    const result = { scenario: 'subscriptions', machine: machineInfo(), seconds, ...figures };
    print(`subscriptions: ${seconds} s, written to ${await writeResult('subscriptions', result)}`);
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    await stopChild(service.child);
    photos.close();
  }
}

await main();
