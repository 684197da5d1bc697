/**
 * Child process of the `scaling` scenario: one API process and `workers` worker processes of the
 * production shape, as `npm start` runs them (ROLE=api, ROLE=worker with WORKER_CONCURRENCY=1
 * and VIPS_CONCURRENCY=1), on a fresh PostgreSQL database and Redis queue prefix, sharing one
 * DATA_DIR for the files. One upload of `n` photos, timed from sending it to the request's
 * terminal status, and the CPU each kind of process spent meanwhile, read from /proc.
 * Started by `bench/run.ts`: `node --import tsx bench/scaling.ts '<ScalingArgs as JSON>'`.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { signToken } from '../src/auth/jwt.ts';
import type { RequestStatus } from '../src/domain/request.ts';
import { RedisEventBus } from '../src/events/event-bus.redis.ts';
import { createLogger } from '../src/observability/logger.ts';
import type { BackingReading, BackingServers } from './lib/backing-cpu.ts';
import { backingBetween, findBackingServers, readBacking } from './lib/backing-cpu.ts';
import { round } from './lib/measure.ts';
import { photoUrls } from './lib/photo-set.ts';
import { cpuBetween, cpuOf, machineBusyMs } from './lib/proc-cpu.ts';
import { IMAGES_PER_ROW } from './lib/processing-service.ts';
import { childArgs, emitResult, intArg, stringArg } from './lib/protocol.ts';
import type { RoleProcess } from './lib/role-process.ts';
import { freePort, startRole } from './lib/role-process.ts';
import type { RunResources } from './lib/scaling-resources.ts';
import { runResources } from './lib/scaling-resources.ts';
import { requestState, waitForEnd } from './lib/scaling-wait.ts';
import type { ScalingArgs, ScalingRun } from './lib/scaling-types.ts';
import { countFiles } from './lib/service-harness.ts';
import { productionShape } from './lib/shape.ts';
import { chunk, productCsv, sendUpload, uploadForm } from './lib/upload.ts';

const JWT_SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';

function readArgs(): ScalingArgs {
  const args = childArgs();
  return {
    workers: intArg(args, 'workers'),
    n: intArg(args, 'n'),
    photoBaseUrl: stringArg(args, 'photoBaseUrl'),
    run: stringArg(args, 'run'),
    profileDir: typeof args.profileDir === 'string' ? args.profileDir : undefined,
  };
}

/** The API and the workers of one run. */
interface Processes {
  api: RoleProcess;
  workers: RoleProcess[];
}

/** The variables every process of the run shares. */
function sharedEnv(resources: RunResources, redisUrl: string, apiPort: number) {
  return {
    ...productionShape(),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
    DATA_DIR: resources.dataDir,
    DATABASE_URL: resources.databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: resources.queuePrefix,
    JWT_SECRET,
    ALLOW_PRIVATE_NETWORK: 'true',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    SHUTDOWN_GRACE_MS: '5000',
    RATE_LIMIT_REQUESTS: '1000000000',
    RATE_LIMIT_UPLOADS: '1000000',
  };
}

/** The API first, so it alone runs the migrations; then every worker at once. */
async function startProcesses(
  args: ScalingArgs,
  resources: RunResources,
  redisUrl: string,
): Promise<Processes> {
  const port = await freePort();
  const env = sharedEnv(resources, redisUrl, port);
  const api = await startRole('api', 'api', env, { port });

  const workerEnv = { ...env, WORKER_CONCURRENCY: '1', VIPS_CONCURRENCY: '1' };
  const profile = (i: number) =>
    args.profileDir && i === 0 ? ['--cpu-prof', `--cpu-prof-dir=${args.profileDir}`] : [];
  const started = await Promise.allSettled(
    Array.from({ length: args.workers }, (_, i) =>
      startRole('worker', `worker ${i + 1}`, workerEnv, { nodeArgs: profile(i) }),
    ),
  );
  const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = started.find((s) => s.status === 'rejected');
  if (failure) {
    await stopProcesses({ api, workers });
    throw failure.reason;
  }
  return { api, workers };
}

async function stopProcesses({ api, workers }: Processes): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
  await api.stop();
}

/** CPU of the run's processes, the backing servers and the whole machine at one moment. */
interface Reading {
  api: Map<number, number>;
  workers: Map<number, number>;
  backing: BackingReading;
  machineMs: number;
}

async function readAll(
  processes: Processes,
  servers: BackingServers,
  resources: RunResources,
): Promise<Reading> {
  return {
    api: await cpuOf([processes.api.pid]),
    workers: await cpuOf(processes.workers.map((w) => w.pid)),
    backing: await readBacking(servers, resources.client),
    machineMs: await machineBusyMs(),
  };
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Uploads the photos and waits for the request's end: the measured window. */
async function measure(
  args: ScalingArgs,
  processes: Processes,
  resources: RunResources,
  redisUrl: string,
): Promise<ScalingRun> {
  const { api } = processes;
  const token = signToken(JWT_SECRET, 'bench');
  const form = uploadForm(
    productCsv(chunk(photoUrls(args.photoBaseUrl, args.n, args.run), IMAGES_PER_ROW)),
  );
  const servers = await findBackingServers(resources.databaseUrl, redisUrl);
  const logger = createLogger({ level: 'warn', format: 'json', stream: process.stderr });
  const bus = new RedisEventBus(redisUrl, resources.queuePrefix, logger);

  const before = await readAll(processes, servers, resources);
  const from = monotonicUs();
  const started = performance.now();
  const selfCpu = process.cpuUsage();
  const answer = await sendUpload(api.url, token, form);
  if (!answer.requestId) {
    throw new Error(`The upload was refused (HTTP ${answer.httpStatus}): ${answer.errors}`);
  }
  const status: RequestStatus = await waitForEnd(bus, api.url, token, answer.requestId);
  const seconds = (performance.now() - started) / 1000;
  const self = process.cpuUsage(selfCpu);
  const to = monotonicUs();
  const after = await readAll(processes, servers, resources);

  await bus.close();
  const state = await requestState(api.url, token, answer.requestId);
  const imagesDir = path.join(resources.dataDir, 'files', 'requests', answer.requestId, 'images');
  return {
    workers: args.workers,
    n: args.n,
    seconds: round(seconds, 2),
    imagesPerSecond: round(args.n / seconds, 2),
    cpuMs: {
      api: round(cpuBetween(before.api, after.api)),
      workers: round(cpuBetween(before.workers, after.workers)),
      ...backingBetween(servers, before.backing, after.backing),
      bench: round((self.user + self.system) / 1000),
      photoServer: null,
    },
    machineCpuMs: round(after.machineMs - before.machineMs),
    loadAverage: os.loadavg().map((l) => round(l, 2)),
    status,
    completed: state.completed,
    failed: state.failed,
    storedFiles: await countFiles(imagesDir),
    windowUs: { from, to },
  };
}

async function main(): Promise<ScalingRun> {
  const args = readArgs();
  const { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl } = productionShape();
  if (!databaseUrl || !redisUrl)
    throw new Error('The scaling scenario needs DATABASE_URL and REDIS_URL');

  const resources = await runResources(databaseUrl, redisUrl, args.run);
  try {
    const processes = await startProcesses(args, resources, redisUrl);
    try {
      return await measure(args, processes, resources, redisUrl);
    } finally {
      await stopProcesses(processes);
    }
  } finally {
    await resources.release();
  }
}

emitResult(await main());
process.exit(0);
