import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { signToken } from '../src/auth/jwt.ts';
import { isTerminal } from '../src/domain/request.ts';
import type { RequestStatus } from '../src/domain/request.ts';
import type { RequestWithProductsQuery, UploadCsvMutation } from './generated/graphql.ts';
import {
  RequestByIdDocument,
  RequestWithProductsDocument,
  UploadCsvDocument,
} from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { IMAGES_DIR, startImageServer } from './helpers/image-server.ts';
import type { RunningService } from './helpers/process.ts';
import {
  cleanUpProcesses,
  jsonLines,
  makeShapeEnv,
  makeTempDir,
  spawnNpm,
  spawnService,
  startServiceProcess,
} from './helpers/process.ts';
import type { GraphQLResponse } from './helpers/service.ts';
import { testShape } from './helpers/shape.ts';
import { within } from './helpers/ws.ts';

const JWT_SECRET = 'process-test-secret-long-enough-for-hs256-0123456789';
const REQUESTS_QUERY = '{ requests { edges { cursor } } }';
const BARE_JWT = /^(eyJ[\w-]+\.[\w-]+\.[\w-]*)$/;
/** Per-test timeout where a test starts service processes. */
const SPAWNS = 120_000;
/** An idle service has nothing to wait for on SIGTERM: it should be gone well within this. */
const STOP_TIMEOUT_MS = 10_000;
/**
 * For suites whose children run embedded whatever TEST_SHAPE says: the production pass skips
 * them, since it would only repeat the embedded one.
 */
const describeEmbedded = describe.skipIf(testShape === 'production');

async function postGraphQL<T>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  token: string,
): Promise<GraphQLResponse<T>> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

function queryDocument<T, V extends Record<string, unknown>>(
  url: string,
  document: TypedDocumentNode<T, V>,
  variables: V,
  token: string,
): Promise<GraphQLResponse<T>> {
  return postGraphQL<T>(url, print(document), variables, token);
}

/** A GraphQL multipart upload of `csv`, as a browser client sends it. */
function uploadCsv(
  url: string,
  csv: string,
  options: { token: string; preflight: boolean },
): Promise<Response> {
  const form = new FormData();
  form.append(
    'operations',
    JSON.stringify({ query: print(UploadCsvDocument), variables: { file: null } }),
  );
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([csv], { type: 'text/csv' }), 'products.csv');
  return fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${options.token}`,
      ...(options.preflight && { 'apollo-require-preflight': 'true' }),
    },
    body: form,
  });
}

async function uploadedRequestId(res: Response): Promise<string> {
  const body = (await res.json()) as GraphQLResponse<UploadCsvMutation>;
  if (!body.data) throw new Error(`upload refused: ${JSON.stringify(body.errors)}`);
  return body.data.uploadCsv.request.id;
}

/** Polls `request(id)` every 200 ms: the only view a test has across processes. */
async function waitUntilEnded(
  url: string,
  id: string,
  token: string,
  timeoutMs = 30_000,
): Promise<RequestStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { data } = await queryDocument(url, RequestByIdDocument, { id }, token);
    const status = data?.request?.status;
    if (status && isTerminal(status)) return status;
    if (Date.now() > deadline) {
      throw new Error(`request ${id} still ${String(status)} after ${timeoutMs} ms`);
    }
    await delay(200);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let settle: (() => void) | undefined;
  const promise = new Promise<void>((resolve) => {
    settle = resolve;
  });
  return { promise, resolve: () => settle?.() };
}

function csvOf(rows: { name: string; urls: string[] }[]): string {
  const lines = rows.map((row, i) => `${i + 1},${row.name},"${row.urls.join(',')}"`);
  return ['S. No.,Product Name,Input Image Urls', ...lines].join('\n');
}

// Each of these stops at start, before any database or queue is opened: the shape is irrelevant.
describeEmbedded('a bad configuration', () => {
  afterAll(cleanUpProcesses);

  it.concurrent.for([
    ['PORT', '-1'],
    ['ROLE', 'wizard'],
    ['DATABASE_URL', 'notaurl'],
    ['WORKER_CONCURRENCY', '0'],
    ['JWT_CLOCK_TOLERANCE_SEC', '301'],
    ['JWT_PUBLIC_KEY', 'not-a-pem-key'],
  ] as const)(
    'stops the process with exit code 1 and one stderr line naming %s=%s',
    { timeout: SPAWNS },
    async ([name, value], { expect }) => {
      const dataDir = await makeTempDir();

      const child = spawnService({ DATA_DIR: dataDir, [name]: value });
      const exit = await child.waitForExit();

      expect(exit.code).toBe(1);
      expect(child.stderr).toEqual([expect.stringMatching(new RegExp(`\\b${name}\\b`))]);
    },
  );

  it.concurrent(
    'stops ROLE=api without DATABASE_URL and REDIS_URL with a line saying it needs them',
    async ({ expect }) => {
      const dataDir = await makeTempDir();

      const child = spawnService({ DATA_DIR: dataDir, ROLE: 'api' });
      const exit = await child.waitForExit();

      expect(exit.code).toBe(1);
      expect(child.stderr).toEqual([
        expect.stringMatching(/ROLE.*needs DATABASE_URL and REDIS_URL/),
      ]);
    },
    SPAWNS,
  );
});

describe('in production with JWT_SECRET set and LOG_FORMAT unset', () => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startServiceProcess({
      ...(await makeShapeEnv()),
      DATA_DIR: await makeTempDir(),
      NODE_ENV: 'production',
      LOG_FORMAT: undefined,
      JWT_SECRET,
    });
  });
  afterAll(cleanUpProcesses);

  it('answers /healthz with 200', async () => {
    const healthz = await fetch(`${service.url}/healthz`);

    expect(healthz.status).toBe(200);
  });

  it('answers /readyz with 200 and every check ok, database, queue and storage among them', async () => {
    const readyz = await fetch(`${service.url}/readyz`);
    const { checks } = (await readyz.json()) as { checks: Record<string, string> };

    expect(readyz.status).toBe(200);
    expect(Object.entries(checks).filter(([, state]) => state !== 'ok')).toEqual([]);
    expect(Object.keys(checks)).toEqual(expect.arrayContaining(['database', 'queue', 'storage']));
  });

  it('writes every stdout line as a JSON log entry, the listening line with its URL', () => {
    const entries = jsonLines(service.process.stdout);
    const listening = entries.find((entry) => String(entry.message).startsWith('listening'));

    expect(entries).toHaveLength(service.process.stdout.length);
    expect(listening).toMatchObject({ message: `listening on ${service.url}`, url: service.url });
  });
});

// The secret is a file in DATA_DIR on either shape.
describeEmbedded('without JWT_SECRET', () => {
  let dataDir: string;
  let first: RunningService;
  let second: RunningService | undefined;
  let devToken: string;

  beforeAll(async () => {
    dataDir = await makeTempDir();
    first = await startServiceProcess({ DATA_DIR: dataDir });
    [, devToken = ''] = await first.process.waitForLine(BARE_JWT);
  });
  afterAll(cleanUpProcesses);

  it('prints a ready token for subject dev at first start that POST /graphql accepts', async () => {
    const res = await postGraphQL(first.url, REQUESTS_QUERY, {}, devToken);

    expect(jwt.decode(devToken, { json: true })?.sub).toBe('dev');
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
  });

  it('keeps the secret it made in DATA_DIR/jwt-secret, readable by its owner only', async () => {
    const file = path.join(dataDir, 'jwt-secret');

    const info = await stat(file);

    expect(info.mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim().length).toBeGreaterThanOrEqual(32);
  });

  it(
    'reuses the kept secret at the next start, so the first token still works',
    async () => {
      // SIGKILL: the secret must survive even an unclean end (SIGTERM has its own test below).
      await first.process.kill('SIGKILL');

      second = await startServiceProcess({ DATA_DIR: dataDir });
      const res = await postGraphQL(second.url, REQUESTS_QUERY, {}, devToken);

      expect(res.status).toBe(200);
      expect(res.errors).toBeUndefined();
    },
    SPAWNS,
  );

  it('signs with `npm run token -- alice --admin` an admin token the service accepts', async () => {
    if (!second) throw new Error('the restarted service is not running');

    const cli = spawnNpm(['run', 'token', '--', 'alice', '--admin'], { DATA_DIR: dataDir });
    const [, token = ''] = await cli.waitForLine(BARE_JWT);
    const exit = await cli.waitForExit();
    const res = await postGraphQL(second.url, REQUESTS_QUERY, {}, token);

    expect(exit.code).toBe(0);
    expect(res.errors).toBeUndefined();
    expect(jwt.decode(token, { json: true })).toMatchObject({ sub: 'alice', roles: ['admin'] });
  });
});

// Embedded only: the lock guards PGlite's files, and a service given DATABASE_URL takes none, so
// that several processes of the production shape can share one DATA_DIR.
describeEmbedded('the DATA_DIR lock', () => {
  let dataDir: string;
  let first: RunningService;

  beforeAll(async () => {
    dataDir = await makeTempDir();
    first = await startServiceProcess({ DATA_DIR: dataDir, JWT_SECRET });
  });
  afterAll(cleanUpProcesses);

  it(
    'stops a second process on the same DATA_DIR with a line saying another process uses it',
    async () => {
      const second = spawnService({ DATA_DIR: dataDir, JWT_SECRET });
      const exit = await second.waitForExit();

      expect(exit.code).toBe(1);
      expect([...second.stdout, ...second.stderr].join('\n')).toMatch(/another process.*DATA_DIR/i);
    },
    SPAWNS,
  );

  it(
    'lets a new process start on the DATA_DIR once the first has stopped with SIGTERM',
    async () => {
      await first.process.kill('SIGTERM', STOP_TIMEOUT_MS);

      const next = await startServiceProcess({ DATA_DIR: dataDir, JWT_SECRET });
      const healthz = await fetch(`${next.url}/healthz`);

      expect(next.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(healthz.status).toBe(200);
    },
    SPAWNS,
  );
});

describeEmbedded('the embedded database at first start', () => {
  afterEach(cleanUpProcesses);

  /** Names in DATA_DIR of directories a new database is built in before it is moved into place. */
  async function buildDirs(dataDir: string): Promise<string[]> {
    return (await readdir(dataDir)).filter((name) => name.startsWith('db.initdb-'));
  }

  it(
    'is made once, in DATA_DIR/db, replacing what an interrupted start left beside it',
    async () => {
      const dataDir = await makeTempDir();
      await mkdir(path.join(dataDir, 'db.initdb-99999', 'base'), { recursive: true });

      const first = await startServiceProcess({ DATA_DIR: dataDir, JWT_SECRET });
      const created = jsonLines(first.process.stdout).filter(
        (entry) => entry.message === 'created the embedded database',
      );
      await first.process.kill('SIGTERM', STOP_TIMEOUT_MS);
      const second = await startServiceProcess({ DATA_DIR: dataDir, JWT_SECRET });
      const healthz = await fetch(`${second.url}/healthz`);

      expect(created).toHaveLength(1);
      expect(await readFile(path.join(dataDir, 'db', 'PG_VERSION'), 'utf8')).toMatch(/^\d+/);
      expect(await buildDirs(dataDir)).toEqual([]);
      expect(second.process.stdout.join('\n')).not.toMatch(/created the embedded database/);
      expect(healthz.status).toBe(200);
    },
    SPAWNS,
  );

  it(
    'is made again by the next start when a start is killed (SIGKILL) while making it',
    async () => {
      const dataDir = await makeTempDir();
      const killed = spawnService({ DATA_DIR: dataDir, JWT_SECRET });
      await expect.poll(() => buildDirs(dataDir), { timeout: 20_000 }).toHaveLength(1);
      await killed.kill('SIGKILL');

      const next = await startServiceProcess({ DATA_DIR: dataDir, JWT_SECRET });
      const answer = await postGraphQL<unknown>(
        next.url,
        REQUESTS_QUERY,
        {},
        signToken(JWT_SECRET, 'dev'),
      );

      expect(answer).toMatchObject({ status: 200, data: { requests: { edges: [] } } });
      expect(await buildDirs(dataDir)).toEqual([]);
    },
    SPAWNS,
  );

  it(
    'lets Ctrl-C while making it (SIGINT to the whole process group) stop the start with exit 0 and the database whole',
    async () => {
      const dataDir = await makeTempDir();
      // A group of its own, as a terminal gives the command it runs: Ctrl-C signals all of it.
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: process.cwd(),
        env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, JWT_SECRET },
        detached: true,
        stdio: 'ignore',
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      try {
        await expect.poll(() => buildDirs(dataDir), { timeout: 20_000 }).toHaveLength(1);
        process.kill(-(child.pid ?? 0), 'SIGINT');

        expect(await within(exited, 60_000, 'the service to finish its start and stop')).toBe(0);
        expect(await readFile(path.join(dataDir, 'db', 'PG_VERSION'), 'utf8')).toMatch(/^\d+/);
        expect(await buildDirs(dataDir)).toEqual([]);
      } finally {
        if (child.exitCode === null) process.kill(-(child.pid ?? 0), 'SIGKILL');
      }
    },
    SPAWNS,
  );

  it(
    'refuses a DATA_DIR/db holding files that are no database, with one line naming it, and keeps them',
    async () => {
      const dataDir = await makeTempDir();
      await mkdir(path.join(dataDir, 'db'));
      await writeFile(path.join(dataDir, 'db', 'notes.txt'), 'kept');

      const refused = spawnService({ DATA_DIR: dataDir, JWT_SECRET });
      const exit = await refused.waitForExit();

      expect(exit.code).toBe(1);
      expect([...refused.stdout, ...refused.stderr].join('\n')).toContain(
        `${path.join(dataDir, 'db')} holds files but no database`,
      );
      expect(await readFile(path.join(dataDir, 'db', 'notes.txt'), 'utf8')).toBe('kept');
    },
    SPAWNS,
  );

  it(
    'stops with one line naming a DATA_DIR it cannot write (here: below a file)',
    async () => {
      const parent = await makeTempDir();
      await writeFile(path.join(parent, 'not-a-dir'), 'kept');
      const dataDir = path.join(parent, 'not-a-dir', 'data');

      const refused = spawnService({ DATA_DIR: dataDir, JWT_SECRET });
      const exit = await refused.waitForExit();
      const lines = [...refused.stdout, ...refused.stderr];

      expect(exit.code).toBe(1);
      expect(lines.join('\n')).toContain(`DATA_DIR ${dataDir} cannot be used (ENOTDIR)`);
      expect(lines.join('\n')).not.toMatch(/\bat \S+ \(/);
    },
    SPAWNS,
  );

  it(
    'refuses a DATA_DIR/db that is a file, with one line naming it, and keeps it',
    async () => {
      const dataDir = await makeTempDir();
      await writeFile(path.join(dataDir, 'db'), 'kept');

      const refused = spawnService({ DATA_DIR: dataDir, JWT_SECRET });
      const exit = await refused.waitForExit();

      expect(exit.code).toBe(1);
      expect([...refused.stdout, ...refused.stderr].join('\n')).toContain(
        `${path.join(dataDir, 'db')} is a file, not a database directory`,
      );
      expect(await readFile(path.join(dataDir, 'db'), 'utf8')).toBe('kept');
    },
    SPAWNS,
  );
});

describe('SIGTERM', () => {
  afterEach(cleanUpProcesses);

  it(
    'stops the service with exit code 0, a stopped log line and no DATA_DIR lock left',
    async () => {
      const [dataDir, shapeEnv] = await Promise.all([makeTempDir(), makeShapeEnv()]);
      const service = await startServiceProcess({ ...shapeEnv, DATA_DIR: dataDir, JWT_SECRET });

      const exit = await service.process.kill('SIGTERM', STOP_TIMEOUT_MS);

      expect(exit.code).toBe(0);
      expect(jsonLines(service.process.stdout).map((entry) => entry.message)).toContain('stopped');
      await expect(stat(path.join(dataDir, 'service.pid'))).rejects.toThrow(/ENOENT/);
    },
    SPAWNS,
  );
});

describeEmbedded('a second Ctrl-C while the service waits for an image in flight', () => {
  afterEach(cleanUpProcesses);
  let images: ImageServer | undefined;
  afterAll(async () => {
    await images?.close();
  });

  it(
    'exits at once with 130, and the next start on the DATA_DIR finishes the request',
    async () => {
      images = await startImageServer();
      const held = deferred();
      const png = await readFile(path.join(IMAGES_DIR, '1x1.png'));
      let release = (): void => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      images.route('/held.png', (_req, res) => {
        held.resolve();
        void released.then(() => res.writeHead(200, { 'content-type': 'image/png' }).end(png));
      });
      const dataDir = await makeTempDir();
      const env = { DATA_DIR: dataDir, JWT_SECRET, ALLOW_PRIVATE_NETWORK: 'true' };
      const token = signToken(JWT_SECRET, 'impatient');
      const first = await startServiceProcess(env);
      const id = await uploadedRequestId(
        await uploadCsv(first.url, csvOf([{ name: 'Held', urls: [`${images.url}/held.png`] }]), {
          token,
          preflight: true,
        }),
      );
      await held.promise;

      first.process.signal('SIGINT');
      await first.process.waitForLine(/press Ctrl-C again/);
      // Well within the grace period it would otherwise wait for the image (25 s).
      const exit = await first.process.kill('SIGINT', 5_000);
      release();

      const second = await startServiceProcess(env);
      const ended = await waitUntilEnded(second.url, id, token);

      expect(exit.code).toBe(130);
      expect(ended).toBe('COMPLETED');
    },
    // Two starts of the service.
    2 * SPAWNS,
  );
});

describe('a crash (SIGKILL) in the middle of a request', () => {
  /** The first images are answered at once; the rest wait until the crash has happened. */
  const ANSWERED_BEFORE_CRASH = 4;
  const env = { ALLOW_PRIVATE_NETWORK: 'true', WORKER_CONCURRENCY: '2', JWT_SECRET };
  const token = signToken(JWT_SECRET, 'crash-tester');
  const paths = Array.from({ length: 20 }, (_, i) => [
    `/crash/${i + 1}-a.jpg`,
    `/crash/${i + 1}-b.jpg`,
  ]);
  let images: ImageServer | undefined;
  let dataDir: string;
  let requestId: string;
  let result: RequestWithProductsQuery['request'];

  beforeAll(async () => {
    const server = await startImageServer();
    images = server;
    const jpeg = await readFile(path.join(IMAGES_DIR, 'photo-landscape-0.3mp.jpg'));
    const held = deferred();
    const inFlight = deferred();
    let requests = 0;
    for (const pathname of paths.flat()) {
      server.route(pathname, (_req, res) => {
        requests += 1;
        if (requests === ANSWERED_BEFORE_CRASH + 2) inFlight.resolve();
        const answer = requests <= ANSWERED_BEFORE_CRASH ? Promise.resolve() : held.promise;
        void answer.then(() => {
          res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length });
          res.end(jpeg);
        });
      });
    }
    const rows = paths.map((urls, i) => ({
      name: `Lamp ${i + 1}`,
      urls: urls.map((p) => server.url + p),
    }));
    // On the production shape both processes share the database and the queue; the jobs the
    // first held come back to the second once their locks lapse (QUEUE_LOCK_MS).
    const shapeEnv = await makeShapeEnv();
    dataDir = await makeTempDir();

    const first = await startServiceProcess({ ...env, ...shapeEnv, DATA_DIR: dataDir });
    const upload = await uploadCsv(first.url, csvOf(rows), { token, preflight: true });
    requestId = await uploadedRequestId(upload);

    await first.process.waitForLine(/image processed/);
    await inFlight.promise;
    await first.process.kill('SIGKILL');
    held.resolve();
    const second = await startServiceProcess({ ...env, ...shapeEnv, DATA_DIR: dataDir });
    await waitUntilEnded(second.url, requestId, token);

    const { data } = await queryDocument(
      second.url,
      RequestWithProductsDocument,
      { id: requestId, first: 20 },
      token,
    );
    result = data?.request ?? null;
  }, 90_000);
  afterAll(async () => {
    await cleanUpProcesses();
    await images?.close();
  });

  it('ends COMPLETED in the next process with all 40 images counted once', () => {
    expect(result?.status).toBe('COMPLETED');
    expect(result?.progress).toMatchObject({ total: 40, completed: 40, failed: 0, pending: 0 });
  });

  it('leaves no image PENDING or PROCESSING', () => {
    const statuses = result?.products.edges.flatMap((e) => e.node.images.map((i) => i.status));

    expect(statuses).toHaveLength(40);
    expect(statuses?.filter((s) => s === 'PENDING' || s === 'PROCESSING')).toEqual([]);
  });

  it('stores exactly one file per image, with no duplicates and no temporary files', async () => {
    const outputs = result?.products.edges.flatMap((e) =>
      e.node.images.map((i) => path.posix.basename(i.outputUrl ?? '')),
    );

    const files = await readdir(path.join(dataDir, 'files', 'requests', requestId, 'images'));

    expect(files).toHaveLength(40);
    expect(files.sort()).toEqual(outputs?.sort());
  });

  it('fetched every input URL at least once', () => {
    const neverFetched = paths.flat().filter((pathname) => !images?.hits.get(pathname));

    expect(neverFetched).toEqual([]);
  });
});

// The server half of `npm run build`: the web half would empty web/dist under the browser tests
// running beside this file.
describe('the compiled server (npm run build:server, then node dist/src/main.js)', () => {
  const token = signToken(JWT_SECRET, 'builder');
  let service: RunningService;
  let images: ImageServer | undefined;
  let csv: string;

  beforeAll(async () => {
    images = await startImageServer();
    csv = csvOf([{ name: 'Desk lamp', urls: [`${images.url}/photo-landscape-0.3mp.jpg`] }]);

    const build = spawnNpm(['run', 'build:server']);
    const built = await build.waitForExit(120_000);
    if (built.code !== 0) {
      throw new Error(
        `npm run build:server failed:\n${[...build.stdout, ...build.stderr].join('\n')}`,
      );
    }

    service = await startServiceProcess(
      {
        ...(await makeShapeEnv()),
        DATA_DIR: await makeTempDir(),
        JWT_SECRET,
        ALLOW_PRIVATE_NETWORK: 'true',
      },
      ['dist/src/main.js'],
    );
  }, 150_000);
  afterAll(async () => {
    await cleanUpProcesses();
    await images?.close();
  });

  it('lists the Upload scalar in an introspection query', async () => {
    const res = await postGraphQL<{ __schema: { types: { name: string }[] } }>(
      service.url,
      '{ __schema { types { name } } }',
      {},
      token,
    );

    expect(res.status).toBe(200);
    expect(res.data?.__schema.types.map((t) => t.name)).toContain('Upload');
  });

  it('refuses a multipart upload without apollo-require-preflight as a CSRF risk', async () => {
    const res = await uploadCsv(service.url, csv, { token, preflight: false });

    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Cross-Site Request Forgery');
  });

  it('accepts the same upload with apollo-require-preflight and returns a request id', async () => {
    const res = await uploadCsv(service.url, csv, { token, preflight: true });

    expect(res.status).toBe(200);
    expect(await uploadedRequestId(res)).toMatch(/^[0-9a-f-]{36}$/);
  });
});
