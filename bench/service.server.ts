/**
 * The service as a child process of a bench whose clients run in the bench itself (the
 * `subscriptions` and `reads` scenarios): the whole service (`startService`) plus a control
 * server on another loopback port, so the bench reads this process's memory and CPU and the
 * time each progress event was published apart from its clients (`/stats`,
 * `/watch?requestId=`, `/published`). Prints one JSON line `{ "url", "controlUrl", "token" }`
 * once both listen, and stops when its standard input closes, so it never outlives the bench
 * that started it.
 *
 * Run with `node --expose-gc --import tsx bench/service.server.ts ['<env as JSON>']`; the
 * optional argument adds variables to the service's configuration. Without `--expose-gc`,
 * memory is read without collecting garbage first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { signToken } from '../src/auth/jwt.ts';
import { loadConfig } from '../src/config.ts';
import type { ProgressEvent } from '../src/events/event-bus.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startService } from '../src/service.ts';
import { serverStats } from './lib/measure.ts';
import { isolatedProductionShape } from './lib/shape.ts';

const JWT_SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';

/** Memory of this process, in bytes, after a full collection when `gc` is exposed. */
export interface ServerStats {
  rss: number;
  heapUsed: number;
  external: number;
  listeners: number;
  /** Peak RSS of the process so far, in MB. */
  peakRssMB: number;
  /** CPU time used by the process so far (user + system, every thread), in ms. */
  cpuMs: number;
}

/** Extra configuration from the optional JSON argument; string values only. */
function extraEnv(): Record<string, string> {
  const raw = process.argv[2];
  if (raw === undefined) return {};
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== 'object' || parsed === null) throw new Error('Pass the env as JSON');
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

/** A progress event as the bus carried it, reduced to what the bench matches on. */
export interface PublishedEvent {
  status: ProgressEvent['status'];
  image: { id: string; status: string } | null;
  /** When it was published, epoch milliseconds. */
  at: number;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'image-pipeline-bench-ws-'));
  const shape = await isolatedProductionShape();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ALLOW_PRIVATE_NETWORK: 'true',
    JWT_SECRET,
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    FETCH_TIMEOUT_MS: '300000',
    RATE_LIMIT_REQUESTS: '1000000000',
    // The subscriptions scenario connects every one of its clients with one owner's token.
    WS_MAX_CONNECTIONS_PER_SUBJECT: '10000',
    ...shape.env,
    ...extraEnv(),
  });
  const service = await startService(
    config,
    createLogger({ ...config.log, stream: process.stderr }),
  );
  const { events } = service.app;
  const published: PublishedEvent[] = [];

  const control = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const reply = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };

    if (url.pathname === '/stats') {
      reply(serverStats(events.listenerCount()));
    } else if (url.pathname === '/watch') {
      void events.subscribe(url.searchParams.get('requestId') ?? '', ({ status, image, at }) => {
        published.push({ status, image: image && { id: image.id, status: image.status }, at });
      });
      reply({ watching: true });
    } else if (url.pathname === '/published') {
      reply(published);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));

  // The end of standard input, not a signal: it comes even when the bench itself is killed.
  process.stdin.resume();
  process.stdin.once('end', () => {
    control.close();
    void service
      .stop()
      .then(() => rm(dataDir, { recursive: true, force: true }))
      .then(() => shape.release())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`the service did not stop cleanly: ${String(error)}\n`);
          process.exit(1);
        },
      );
  });
  const { port } = control.address() as AddressInfo;
  process.stdout.write(
    `${JSON.stringify({
      url: service.url,
      controlUrl: `http://127.0.0.1:${port}`,
      token: signToken(JWT_SECRET, 'bench'),
    })}\n`,
  );
}

await main();
