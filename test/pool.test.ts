import { setTimeout as delay } from 'node:timers/promises';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../src/db/database.ts';
import { openDatabase } from '../src/db/database.ts';
import type { RequestByIdQuery } from './generated/graphql.ts';
import { RequestByIdDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import type { TestDatabase } from './helpers/postgres.ts';
import {
  createTestDatabase,
  dropTestDatabase,
  pgUrl,
  skipWithoutPostgres,
} from './helpers/postgres.ts';
import { skipWithoutRedis } from './helpers/redis.ts';
import type { GraphQLResponse, TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import type { ShapeResources } from './helpers/shape.ts';
import { productionResources } from './helpers/shape.ts';

/**
 * Case C-17: API requests and queue workers share one pool of PostgreSQL connections. Its size
 * is the service's setting, not the URL's; a query that finds it full waits a bounded time and
 * then fails, rather than hanging; and under load nothing waits long.
 */
const skipPostgres = await skipWithoutPostgres();
const skipRedis = await skipWithoutRedis();

describe.skipIf(skipPostgres)('the PostgreSQL connection pool (C-17)', () => {
  let database: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    database = await createTestDatabase();
    // Pool parameters in the URL mean nothing to a driver adapter; the service's own setting does.
    db = await openDatabase({
      url: `${database.url}?connection_limit=50&pool_timeout=1`,
      pgliteDir: '',
      poolSize: 2,
    });
  });
  afterAll(async () => {
    await db.close();
    await dropTestDatabase(database.name);
  });

  it('never opens more connections than DATABASE_POOL_SIZE, whatever the URL says', async () => {
    const queries = Array.from(
      { length: 30 },
      () =>
        db.prisma.$queryRaw<
          { pid: number }[]
        >`SELECT pg_backend_pid() AS pid, pg_sleep(0.05)::text`,
    );

    const pids = new Set((await Promise.all(queries)).map((rows) => rows[0]?.pid));

    expect(pids.size).toBeLessThanOrEqual(2);
    expect(pids.size).toBeGreaterThan(0);
  });

  it('answers every one of many concurrent queries, waiting for a free connection', async () => {
    const queries = Array.from(
      { length: 30 },
      (_, i) => db.prisma.$queryRaw<{ n: number }[]>`SELECT ${i}::int AS n`,
    );

    const answers = (await Promise.all(queries)).map((rows) => rows[0]?.n);

    expect(answers).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});

/** The connection-acquire timeout the held-pool tests open their database with. */
const ACQUIRE_TIMEOUT_MS = 1_000;
/** Past this a waiting query counts as hung, so such a pool fails the test, not the hook. */
const HANG_AFTER_MS = ACQUIRE_TIMEOUT_MS + 5_000;

describe.skipIf(skipPostgres)(
  'a query arriving while every pooled connection is held (C-17)',
  () => {
    let database: TestDatabase;
    let db: Database;
    let admin: pg.Client;
    let refusal: unknown;
    let waitedMs: number;

    beforeAll(async () => {
      database = await createTestDatabase();
      db = await openDatabase({
        url: database.url,
        pgliteDir: '',
        poolSize: 2,
        connectTimeoutMs: ACQUIRE_TIMEOUT_MS,
      });
      admin = new pg.Client({ connectionString: pgUrl });
      await admin.connect();

      const held = holdEveryConnection(db, 2);
      await waitForSleepers(admin, database.name, 2);
      const started = Date.now();
      refusal = await withinBound(
        db.prisma.$queryRaw`SELECT 1`.then(
          () => 'answered',
          (reason: unknown) => reason,
        ),
      );
      waitedMs = Date.now() - started;
      await releaseSleepers(admin, database.name);
      await held;
    });
    afterAll(async () => {
      await admin.end();
      await db.close();
      await dropTestDatabase(database.name);
    });

    it('fails within the connection-acquire timeout instead of hanging', () => {
      expect(refusal).toBeInstanceOf(Error);
      expect((refusal as Error).message).toMatch(/timeout exceeded when trying to connect/);
      expect(waitedMs).toBeGreaterThanOrEqual(ACQUIRE_TIMEOUT_MS - 50);
      expect(waitedMs).toBeLessThan(ACQUIRE_TIMEOUT_MS + 1_500);
    });

    it('answers queries again, within its size, once the holders have ended', async () => {
      const queries = Array.from(
        { length: 10 },
        () => db.prisma.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`,
      );

      const pids = new Set((await Promise.all(queries)).map((rows) => rows[0]?.pid));

      expect(pids.size).toBeGreaterThan(0);
      expect(pids.size).toBeLessThanOrEqual(2);
    });
  },
);

/** The case's load: a small pool, 20 images processed at once, and 30 clients polling. */
const LOAD_POOL_SIZE = 5;
const LOAD_IMAGES = 60;
const POLLING_CLIENTS = 30;
/** The case's bound on any one status answer: a hang detector, not a speed figure. */
const STATUS_ANSWER_LIMIT_MS = 5_000;

describe.skipIf(skipPostgres || skipRedis)(
  'a request of 60 images processed 20 at once on a pool of 5, polled by 30 clients (C-17)',
  () => {
    let resources: ShapeResources;
    let images: ImageServer;
    let service: TestService;
    let admin: pg.Client;
    let answers: StatusAnswer[];
    let peakConnections: number;
    let final: GraphQLResponse<RequestByIdQuery>;
    let status: string;

    beforeAll(async () => {
      resources = await productionResources();
      images = await startImageServer();
      service = await startTestService({
        ...resources.env,
        DATABASE_POOL_SIZE: String(LOAD_POOL_SIZE),
        WORKER_CONCURRENCY: '20',
      });
      admin = new pg.Client({ connectionString: pgUrl });
      await admin.connect();
      const sampler = sampleConnections(admin, databaseName(resources));

      const requestId = await uploadImages(service, images, LOAD_IMAGES);
      let ended = false;
      const end = service.waitForEnd(requestId).finally(() => {
        ended = true;
      });
      const polls = Array.from({ length: POLLING_CLIENTS }, () =>
        pollStatus(service, requestId, () => ended),
      );
      answers = (await Promise.all(polls)).flat();
      status = await end;

      peakConnections = await sampler.stop();
      final = await service.graphql(RequestByIdDocument, { id: requestId });
    });
    afterAll(async () => {
      await admin.end();
      await service.stop();
      await images.close();
      await resources.release();
    });

    it('ends COMPLETED with every image counted once', () => {
      expect(status).toBe('COMPLETED');
      expect(final.data?.request?.progress).toMatchObject({
        total: LOAD_IMAGES,
        completed: LOAD_IMAGES,
        failed: 0,
        pending: 0,
      });
    });

    it('answers every status query without an error (no P2024, no timeout)', () => {
      expect(answers.length).toBeGreaterThanOrEqual(POLLING_CLIENTS);
      expect(answers.flatMap((a) => (a.problem ? [a.problem] : []))).toEqual([]);
    });

    it('answers every status query within 5 s', () => {
      const slowest = Math.max(...answers.map((a) => a.ms));

      expect(slowest).toBeLessThan(STATUS_ANSWER_LIMIT_MS);
    });

    it('never has more connections open to the database than DATABASE_POOL_SIZE', () => {
      expect(peakConnections).toBeGreaterThan(0);
      expect(peakConnections).toBeLessThanOrEqual(LOAD_POOL_SIZE);
    });
  },
);

/** One answer to the `request(id)` status query: how long it took, and what was wrong with it. */
interface StatusAnswer {
  ms: number;
  problem?: string;
}

/** Uploads a CSV of `count` products with one distinct image URL each; resolves with its id. */
async function uploadImages(
  service: TestService,
  images: ImageServer,
  count: number,
): Promise<string> {
  const rows = Array.from(
    { length: count },
    (_, i) => `${i + 1},Product ${i + 1},${images.url}/progressive.jpg?copy=${i + 1}`,
  );
  const csv = `S. No.,Product Name,Input Image Urls\n${rows.join('\n')}\n`;

  const body = (await (await service.upload(csv)).json()) as UploadBody;
  const id = body.data?.uploadCsv.request.id;
  if (!id) throw new Error(`upload refused: ${JSON.stringify(body.errors)}`);
  return id;
}

/** Asks for the request's status, one query after another, until it has ended. */
async function pollStatus(
  service: TestService,
  requestId: string,
  ended: () => boolean,
): Promise<StatusAnswer[]> {
  const answers: StatusAnswer[] = [];
  while (!ended()) {
    const started = performance.now();
    const problem = await service.graphql(RequestByIdDocument, { id: requestId }).then(
      (res) => statusProblem(res),
      (error: unknown) => String(error),
    );
    answers.push({ ms: performance.now() - started, ...(problem && { problem }) });
  }
  return answers;
}

/** What is wrong with a status answer, or undefined when it carries the request. */
function statusProblem(res: GraphQLResponse<RequestByIdQuery>): string | undefined {
  if (res.errors?.length) {
    return res.errors.map((e) => `${String(e.extensions?.code)}: ${e.message}`).join('; ');
  }
  if (res.status !== 200) return `HTTP ${res.status}`;
  if (!res.data?.request) return 'no request in the answer';
  return undefined;
}

/** The name of the database a production-shape service was given. */
function databaseName(resources: ShapeResources): string {
  return new URL(resources.env.DATABASE_URL ?? '').pathname.slice(1);
}

/**
 * Counts the connections open to `datname` every 25 ms until stopped; `stop` resolves with the
 * most seen at once.
 */
function sampleConnections(admin: pg.Client, datname: string): { stop(): Promise<number> } {
  const stopped = new AbortController();
  let peak = 0;
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      peak = Math.max(peak, await connectionsTo(admin, datname));
      await delay(25);
    }
  })();
  return {
    stop: async () => {
      stopped.abort();
      await loop;
      return peak;
    },
  };
}

/** `outcome`, or `'still waiting'` when it has not settled within {@link HANG_AFTER_MS}. */
async function withinBound(outcome: Promise<unknown>): Promise<unknown> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      outcome,
      delay(HANG_AFTER_MS, 'still waiting', { signal: timer.signal }),
    ]);
  } finally {
    timer.abort();
  }
}

/**
 * Starts `count` queries that each sleep for a minute on a connection of their own; they end
 * when {@link releaseSleepers} cancels them. Resolves once all have ended, however they ended.
 */
function holdEveryConnection(db: Database, count: number): Promise<unknown> {
  const sleepers = Array.from(
    { length: count },
    () => db.prisma.$queryRaw`SELECT pg_sleep(60)::text`,
  );
  return Promise.allSettled(sleepers);
}

/** Resolves once `count` backends of `datname` are inside `pg_sleep`. */
async function waitForSleepers(admin: pg.Client, datname: string, count: number): Promise<void> {
  for (;;) {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = $1 AND state = 'active' AND query LIKE '%pg_sleep%'`,
      [datname],
    );
    if ((rows[0]?.n ?? 0) >= count) return;
    await delay(20);
  }
}

/** Cancels the statement each sleeping backend of `datname` runs; the connections stay open. */
async function releaseSleepers(admin: pg.Client, datname: string): Promise<void> {
  await admin.query(
    `SELECT pg_cancel_backend(pid) FROM pg_stat_activity
      WHERE datname = $1 AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()`,
    [datname],
  );
}

/** Connections `pg_stat_activity` shows open to the database `datname`. */
async function connectionsTo(admin: pg.Client, datname: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
    [datname],
  );
  return rows[0]?.n ?? 0;
}
