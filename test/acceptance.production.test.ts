import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signToken } from '../src/auth/jwt.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import { skipWithoutPostgres } from './helpers/postgres.ts';
import type { ChildHandle } from './helpers/process.ts';
import { cleanUpProcesses, makeTempDir, spawnService } from './helpers/process.ts';
import { skipWithoutRedis } from './helpers/redis.ts';
import { csvForm } from './helpers/rest.ts';
import type { TestS3 } from './helpers/s3.ts';
import { startS3 } from './helpers/s3.ts';
import type { ShapeResources } from './helpers/shape.ts';
import { productionResources } from './helpers/shape.ts';
import type { WebhookReceiver } from './helpers/webhook-receiver.ts';
import { startWebhookReceiver } from './helpers/webhook-receiver.ts';
import type { ReceivedEvent } from './helpers/ws.ts';
import { connectClient } from './helpers/ws.ts';

const skip = (await skipWithoutPostgres()) || (await skipWithoutRedis());

const JWT_SECRET = 'acceptance-secret-that-is-long-enough-for-hs256';
const IMAGES = 16;
/** Start-up may be slow on a loaded machine: four processes start at once. */
const START_TIMEOUT_MS = 180_000;

interface Proc {
  child: ChildHandle;
  url: string;
}

/**
 * The production shape end to end, as an operator runs it: PostgreSQL and Redis on loopback,
 * an S3-protocol store (s3rver), two `ROLE=api` processes and two `ROLE=worker` processes. A
 * worker is killed (SIGKILL) in the middle of a request, and another is stopped with SIGTERM
 * while it works.
 */
describe.skipIf(skip)('the production shape: 2 API and 2 worker processes', () => {
  let resources: ShapeResources;
  let images: ImageServer;
  let hook: WebhookReceiver;
  let s3: TestS3;
  let env: Record<string, string>;
  let db: pg.Client;
  const token = signToken(JWT_SECRET, 'alice');
  const procs: Proc[] = [];

  async function start(role: 'api' | 'worker', extra: Record<string, string> = {}) {
    const child = spawnService({ ...env, ROLE: role, ...extra });
    const [, url = ''] = await child.waitForLine(/listening on (https?:\/\/[^\s"]+)/, {
      timeoutMs: START_TIMEOUT_MS,
    });
    return { child, url };
  }

  async function upload(apiUrl: string, urls: string[], webhookUrl?: string): Promise<string> {
    const csv = `S. No.,Product Name,Input Image Urls\n${urls.map((u, i) => `${i + 1},Item ${i + 1},${u}`).join('\n')}\n`;
    const res = await fetch(`${apiUrl}/api/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: csvForm(csv, webhookUrl ? { webhookUrl } : {}),
    });
    const body = (await res.json()) as { requestId: string };
    return body.requestId;
  }

  async function imageStatuses(requestId: string): Promise<Record<string, number>> {
    const { rows } = await db.query<{ status: string; n: string }>(
      'SELECT status::text, count(*) AS n FROM images WHERE request_id = $1 GROUP BY status',
      [requestId],
    );
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  async function until(probe: () => Promise<boolean>): Promise<void> {
    while (!(await probe())) await new Promise((resolve) => setTimeout(resolve, 100));
  }

  beforeAll(async () => {
    let dataDir: string;
    [resources, images, hook, dataDir, s3] = await Promise.all([
      productionResources(),
      startImageServer(),
      startWebhookReceiver(),
      makeTempDir(),
      startS3(),
    ]);
    // Each image takes a while, so a worker is killed with work in hand.
    images.route('/slow.png', (_req, res) => {
      setTimeout(() => res.writeHead(302, { location: '/1x1.png' }).end(), 400);
    });
    images.route('/very-slow.png', (_req, res) => {
      setTimeout(() => res.writeHead(302, { location: '/alpha.png' }).end(), 3_000);
    });
    db = new pg.Client({ connectionString: resources.env.DATABASE_URL });
    await db.connect();
    env = {
      ...resources.env,
      ...s3.env,
      // s3rver's credentials, and no way for the SDK to look further (no files, no metadata).
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: `${dataDir}/no-aws-config`,
      AWS_SHARED_CREDENTIALS_FILE: `${dataDir}/no-aws-credentials`,
      DATA_DIR: dataDir,
      JWT_SECRET,
      ALLOW_PRIVATE_NETWORK: 'true',
      WORKER_CONCURRENCY: '2',
      DATABASE_POOL_SIZE: '4',
      SHUTDOWN_GRACE_MS: '20000',
      WEBHOOK_POLL_MS: '200',
      LOG_LEVEL: 'info',
    };

    // Four processes start, and migrate, together on a fresh database.
    procs.push(
      ...(await Promise.all([start('api'), start('api'), start('worker'), start('worker')])),
    );
  });
  afterAll(async () => {
    await cleanUpProcesses();
    await db.end();
    await resources.release();
    await images.close();
    await hook.close();
    await s3.stop();
  });

  describe('a request whose worker is killed half-way (C-21)', () => {
    let requestId: string;
    let events: ReceivedEvent[];
    let doneAtKill: number;

    beforeAll(async () => {
      const [api1, api2, worker1] = procs as [Proc, Proc, Proc];
      const urls = Array.from({ length: IMAGES }, (_, i) => `${images.url}/slow.png?n=${i}`);
      requestId = await upload(api1.url, urls, hook.url);

      const ws = connectClient(api2.url, `Bearer ${token}`);
      const subscription = ws.subscribe(requestId);
      await until(async () => {
        const statuses = await imageStatuses(requestId);
        return (statuses.COMPLETED ?? 0) >= 3 && (statuses.PROCESSING ?? 0) > 0;
      });
      doneAtKill = (await imageStatuses(requestId)).COMPLETED ?? 0;
      await worker1.child.kill('SIGKILL');

      events = await subscription.done;
      await ws.dispose();
      await hook.nth(1);
    });

    it('is heard through the second API process from start to end', () => {
      const last = events.at(-1)?.data;

      expect(events.length).toBeGreaterThan(2);
      expect(last?.status).toBe('COMPLETED');
      expect(last?.progress).toEqual({
        total: IMAGES,
        completed: IMAGES,
        failed: 0,
        pending: 0,
        percent: 100,
      });
    });

    it('was still running when the worker died', () => {
      expect(doneAtKill).toBeLessThan(IMAGES);
    });

    it('counts each image once, with never a counter going backwards', () => {
      const done = events.map((e) => e.data.progress.completed + e.data.progress.failed);

      expect(done).toEqual([...done].sort((a, b) => a - b));
      expect(Math.max(...done)).toBe(IMAGES);
    });

    it('stores exactly one object per image in the bucket', async () => {
      const client = new S3Client({
        endpoint: s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
      });
      const listed = await client.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `requests/${requestId}/images/` }),
      );
      client.destroy();

      expect(listed.KeyCount).toBe(IMAGES);
    });

    it('writes an output CSV with every output URL, served by either API process', async () => {
      const res = await fetch(`${procs[1]?.url ?? ''}/api/requests/${requestId}/output.csv`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const rows: Record<string, string>[] = parse(await res.text(), { columns: true });

      expect(rows).toHaveLength(IMAGES);
      expect(rows.every((r) => r['Output Image Urls']?.startsWith(s3.endpoint))).toBe(true);
    });

    it('delivers its webhook once', () => {
      expect(hook.received.map((h) => h.method)).toEqual(['POST']);
    });
  });

  describe('SIGTERM to a worker with images in hand (C-23 a)', () => {
    let requestId: string;
    let exit: { code: number | null };
    let atExit: Record<string, number>;
    let finalStatus: string;

    beforeAll(async () => {
      const [api1, , , worker2] = procs as [Proc, Proc, Proc, Proc];
      // Two images fill the worker's two slots; the third waits in the queue.
      const urls = [0, 1, 2].map((i) => `${images.url}/very-slow.png?n=${i}`);
      requestId = await upload(api1.url, urls);
      await until(async () => (await imageStatuses(requestId)).PROCESSING === 2);

      exit = await worker2.child.kill('SIGTERM', 60_000);
      atExit = await imageStatuses(requestId);

      procs.push(await start('worker'));
      await until(async () => {
        const { rows } = await db.query<{ status: string }>(
          'SELECT status::text FROM requests WHERE id = $1',
          [requestId],
        );
        finalStatus = rows[0]?.status ?? '';
        return finalStatus === 'COMPLETED';
      });
    });

    it('exits with code 0', () => {
      expect(exit.code).toBe(0);
    });

    it('finishes the images it had started and takes no new one', () => {
      expect(atExit).toEqual({ COMPLETED: 2, PENDING: 1 });
    });

    it('leaves the waiting image to the next worker, which ends the request', () => {
      expect(finalStatus).toBe('COMPLETED');
    });
  });
});
