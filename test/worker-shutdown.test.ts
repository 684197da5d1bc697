import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signToken } from '../src/auth/jwt.ts';
import { isTerminal } from '../src/domain/request.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import { skipWithoutPostgres } from './helpers/postgres.ts';
import type { ChildExit, ChildHandle } from './helpers/process.ts';
import { cleanUpProcesses, makeTempDir, spawnService } from './helpers/process.ts';
import { skipWithoutRedis } from './helpers/redis.ts';
import type { StatusBody } from './helpers/rest.ts';
import { csvForm } from './helpers/rest.ts';
import type { ShapeResources } from './helpers/shape.ts';
import { productionResources } from './helpers/shape.ts';

const skip = (await skipWithoutPostgres()) || (await skipWithoutRedis());

const JWT_SECRET = 'worker-shutdown-secret-long-enough-for-hs256-0123';
/** The stopping worker's SHUTDOWN_GRACE_MS: far shorter than the held download. */
const GRACE_MS = 1_000;
/** What a worker may take beyond its grace period to hand back, close and exit. */
const EXIT_MARGIN_MS = 5_000;
/**
 * Longer than the whole test: a job still claimed by the stopped worker would come back only
 * when this lock lapsed, so the request ends in time only if the worker handed the job back.
 */
const QUEUE_LOCK_MS = 120_000;
/** The held image and the quick ones that the worker finishes before it is stopped. */
const HELD = '/held.jpg';
const QUICK = 3;
const IMAGES = QUICK + 1;
const START_TIMEOUT_MS = 60_000;

interface Proc {
  child: ChildHandle;
  url: string;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let settle: (() => void) | undefined;
  const promise = new Promise<void>((resolve) => {
    settle = resolve;
  });
  return { promise, resolve: () => settle?.() };
}

/**
 * A ROLE=worker process stopped with SIGTERM while an image is still downloading, with a grace
 * period too short for that download: it must hand the image back to the queue rather than
 * wait for it or drop it, so that the next worker finishes the request.
 */
describe.skipIf(skip)('SIGTERM to a worker with an image held mid-download', () => {
  const token = signToken(JWT_SECRET, 'shutdown-tester');
  let resources: ShapeResources;
  let images: ImageServer;
  let dataDir: string;
  let env: Record<string, string>;
  let api: Proc;
  let requestId: string;
  let exit: ChildExit;
  let stopMs: number;
  let stoppedWorkerLog: readonly string[];
  let atExit: StatusBody;
  let final: StatusBody;

  async function start(role: 'api' | 'worker', extra: Record<string, string> = {}) {
    const child = spawnService({ ...env, ROLE: role, ...extra });
    const [, url = ''] = await child.waitForLine(/listening on (https?:\/\/[^\s"]+)/, {
      timeoutMs: START_TIMEOUT_MS,
    });
    return { child, url };
  }

  async function status(): Promise<StatusBody> {
    const res = await fetch(`${api.url}/api/status/${requestId}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (res.status !== 200) throw new Error(`status answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as StatusBody;
  }

  /** Polls the public status every 100 ms until `done` holds; the only view across processes. */
  async function statusWhen(done: (body: StatusBody) => boolean, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const body = await status();
      if (done(body)) return body;
      if (Date.now() > deadline) {
        throw new Error(`request still ${body.status} after ${timeoutMs} ms`);
      }
      await delay(100);
    }
  }

  beforeAll(async () => {
    [resources, images, dataDir] = await Promise.all([
      productionResources(),
      startImageServer(),
      makeTempDir(),
    ]);
    // The first download of the held image gets no answer until the test releases it; the
    // next worker's download of it is answered at once.
    const downloading = deferred();
    const released = deferred();
    let heldHits = 0;
    images.route(HELD, (_req, res) => {
      heldHits += 1;
      if (heldHits === 1) downloading.resolve();
      const answer = heldHits === 1 ? released.promise : Promise.resolve();
      void answer.then(() => res.writeHead(302, { location: '/photo-landscape-0.3mp.jpg' }).end());
    });
    env = {
      ...resources.env,
      QUEUE_LOCK_MS: String(QUEUE_LOCK_MS),
      DATA_DIR: dataDir,
      JWT_SECRET,
      ALLOW_PRIVATE_NETWORK: 'true',
      WORKER_CONCURRENCY: '2',
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      LOG_LEVEL: 'info',
    };
    const urls = [
      `${images.url}${HELD}`,
      ...Array.from({ length: QUICK }, (_, i) => `${images.url}/1x1.png?n=${i}`),
    ];
    const csv = [
      'S. No.,Product Name,Input Image Urls',
      ...urls.map((url, i) => `${i + 1},Item ${i + 1},${url}`),
    ].join('\n');

    let worker: Proc;
    [api, worker] = await Promise.all([start('api'), start('worker')]);
    const upload = await fetch(`${api.url}/api/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: csvForm(csv),
    });
    ({ requestId } = (await upload.json()) as { requestId: string });
    await downloading.promise;
    await statusWhen((body) => body.progress.completed === QUICK);

    const stopping = Date.now();
    exit = await worker.child.kill('SIGTERM', GRACE_MS + 30_000);
    stopMs = Date.now() - stopping;
    stoppedWorkerLog = worker.child.stdout;
    atExit = await status();
    released.resolve();

    await start('worker', { SHUTDOWN_GRACE_MS: '5000' });
    final = await statusWhen((body) => isTerminal(body.status));
  }, 120_000);
  afterAll(async () => {
    await cleanUpProcesses();
    await resources.release();
    await images.close();
  });

  it('exits with code 0 within its grace period plus a margin, not waiting for the download', () => {
    expect(exit.code).toBe(0);
    expect(stopMs).toBeLessThan(GRACE_MS + EXIT_MARGIN_MS);
  });

  it('leaves the held image unfinished and the request running, with no failure recorded', () => {
    expect(atExit.status).toBe('PROCESSING');
    expect(atExit.progress).toMatchObject({ total: IMAGES, completed: QUICK, failed: 0 });
    expect(stoppedWorkerLog.join('\n')).not.toMatch(/could not be handed back/);
  });

  it('is finished by the next worker long before the job lock of the stopped one would lapse', () => {
    expect(final.status).toBe('COMPLETED');
    expect(final.progress).toMatchObject({ total: IMAGES, completed: IMAGES, failed: 0 });
  });

  it('counts every image once: each COMPLETED with one output URL and one stored file', async () => {
    const outputs = final.products.flatMap((p) => p.images.map((i) => i.outputUrl));
    const files = await readdir(path.join(dataDir, 'files', 'requests', requestId, 'images'));

    expect(final.products.flatMap((p) => p.images.map((i) => i.status))).toEqual(
      Array<string>(IMAGES).fill('COMPLETED'),
    );
    expect(files.sort()).toEqual(outputs.map((url) => path.posix.basename(url ?? '')).sort());
  });

  it('fetched the held image again in the next worker', () => {
    expect(images.hits.get(HELD)).toBe(2);
  });
});
