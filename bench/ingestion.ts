/**
 * Child process of the `ingestion` scenario: one upload of a large CSV to the service started
 * as a deployment starts it (`npm run start:prod`, the compiled service with its memory
 * settings), in a process of its own, on a new `DATA_DIR` (or a new database and queue prefix
 * on the production shape). Timed from the first byte sent to the answer; the service's memory
 * is read from /proc, so the peak is the whole service process's and nothing of the client's.
 * Started by `bench/run.ts`: `node --import tsx bench/ingestion.ts '<IngestionArgs as JSON>'`.
 */
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

import { parse } from 'csv-parse';

import { signToken } from '../src/auth/jwt.ts';
import { openDatabase } from '../src/db/database.ts';
import type { IngestionArgs, IngestionRun, ServiceMemory } from './lib/ingestion-types.ts';
import { round, startWindow } from './lib/measure.ts';
import { processCpuMs } from './lib/proc-cpu.ts';
import { childArgs, emitResult, intArg } from './lib/protocol.ts';
import { startRole } from './lib/role-process.ts';
import { isolatedProductionShape } from './lib/shape.ts';
import { productCsv, sendUpload, uploadForm } from './lib/upload.ts';

const JWT_SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';

/**
 * Rows of `urlsPerRow` URLs. They name a loopback port nothing listens on, and private
 * addresses are refused (ALLOW_PRIVATE_NETWORK is not set): the worker that starts on them
 * once the upload is answered fails each before any connection, and nothing leaves the machine.
 */
function generateCsv({ rows, urlsPerRow }: IngestionArgs): string {
  const urls = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: urlsPerRow }, (_, k) => `http://127.0.0.1:9/p${i + 1}-${k + 1}.jpg`),
  );
  return productCsv(urls);
}

/** Seconds csv-parse alone takes to read `csv` as a stream. */
async function parseFloor(csv: string): Promise<number> {
  const end = startWindow();
  let records = 0;
  const parser = Readable.from([Buffer.from(csv)]).pipe(parse({ bom: true }));
  parser.on('data', () => (records += 1));
  await finished(parser);
  if (records === 0) throw new Error('csv-parse read no records');
  return end().seconds;
}

/** `VmHWM` (peak resident set) and `VmRSS` of a process, in MB. */
async function memoryOf(pid: number): Promise<{ peakMB: number; rssMB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kB = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { peakMB: round(kB('VmHWM') / 1024), rssMB: round(kB('VmRSS') / 1024) };
}

/** Resets a process's peak RSS to its current RSS (`5` into /proc/<pid>/clear_refs). */
async function resetPeak(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

async function storedCounts(databaseUrl: string | undefined, dataDir: string, requestId?: string) {
  if (!requestId) return { productsStored: 0, imagesStored: 0 };
  const db = await openDatabase({
    url: databaseUrl,
    pgliteDir: path.join(dataDir, 'db'),
    poolSize: 1,
  });
  try {
    return {
      productsStored: await db.prisma.product.count({ where: { requestId } }),
      imagesStored: await db.prisma.image.count({ where: { requestId } }),
    };
  } finally {
    await db.close();
  }
}

/** The service's CPU profile, written at its exit into `dir` under its pid; moved to `file`. */
async function keepProfile(dir: string, pid: number, file: string): Promise<void> {
  const name = (await readdir(dir)).find((entry) => entry.includes(`.${pid}.`));
  if (!name) throw new Error(`The service (pid ${pid}) wrote no CPU profile into ${dir}`);
  await rename(path.join(dir, name), file);
}

async function measure(args: IngestionArgs): Promise<IngestionRun> {
  const urls = args.rows * args.urlsPerRow;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'image-pipeline-bench-ingestion-'));
  const profileDir = args.profileFile ? await mkdtemp(path.join(dataDir, 'profile-')) : undefined;
  const shape = await isolatedProductionShape();
  // On the production shape the API runs alone, as it would; the embedded shape is one process.
  const role = shape.env.DATABASE_URL && shape.env.REDIS_URL ? 'api' : 'all';
  const env = {
    ...shape.env,
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    // Each refused image is logged as it fails; the bench's output needs none of them.
    LOG_LEVEL: 'error',
    JWT_SECRET,
    MAX_CSV_ROWS: String(Math.max(args.rows, 100_000)),
    MAX_IMAGES_PER_REQUEST: String(Math.max(urls, 300_000)),
    RATE_LIMIT_UPLOADS: '1000000',
  };
  const service = await startRole(role, 'ingestion service', env, {
    compiled: true,
    ...(profileDir && { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] }),
  });

  try {
    const csv = generateCsv(args);
    const parseFloorSeconds = await parseFloor(csv);
    const form = uploadForm(csv);
    const token = signToken(JWT_SECRET, 'bench');

    const startup = await memoryOf(service.pid);
    const peakReset = await resetPeak(service.pid);
    const cpuBefore = await processCpuMs(service.pid);
    const end = startWindow();
    const answer = await sendUpload(service.url, token, form);
    const { seconds } = end();
    const cpuAfter = await processCpuMs(service.pid);
    const upload = await memoryOf(service.pid);

    await service.stop();
    if (profileDir && args.profileFile) {
      await keepProfile(profileDir, service.pid, args.profileFile);
    }
    const counts = await storedCounts(shape.env.DATABASE_URL, dataDir, answer.requestId);
    const memory: ServiceMemory = {
      startupPeakMB: startup.peakMB,
      rssBeforeMB: startup.rssMB,
      uploadPeakMB: upload.peakMB,
      rssAfterMB: upload.rssMB,
      peakReset,
    };
    return {
      ...args,
      urls,
      csvBytes: Buffer.byteLength(csv),
      seconds: round(seconds, 2),
      rowsPerSecond: Math.round(args.rows / seconds),
      parseFloorSeconds: round(parseFloorSeconds, 3),
      ratioToParseFloor: round(seconds / parseFloorSeconds),
      peakRssMB: Math.max(startup.peakMB, upload.peakMB),
      memory,
      serviceCpuMs:
        cpuBefore === undefined || cpuAfter === undefined ? null : Math.round(cpuAfter - cpuBefore),
      httpStatus: answer.httpStatus,
      errors: answer.errors,
      ...counts,
    };
  } finally {
    await service.stop();
    await shape.release();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const args = childArgs();
emitResult(
  await measure({
    rows: intArg(args, 'rows'),
    urlsPerRow: intArg(args, 'urlsPerRow', 3),
    profileFile: typeof args.profileFile === 'string' ? args.profileFile : undefined,
  }),
);
process.exit(0);
