import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import type { App } from '../../src/app.ts';
import { closeApp, createApp } from '../../src/app.ts';
import { createTokenVerifier, signToken } from '../../src/auth/jwt.ts';
import type { Config } from '../../src/config.ts';
import { loadConfig } from '../../src/config.ts';
import type { RequestStatus } from '../../src/domain/request.ts';
import { isTerminal } from '../../src/domain/request.ts';
import { createContainer } from '../../src/graphql/container.ts';
import { buildGraphQLSchema } from '../../src/graphql/schema.ts';
import { HttpServer } from '../../src/http/server.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startService } from '../../src/service.ts';
import { isolatedProductionShape } from './shape.ts';

const JWT_SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789';

/** A service under measurement, on a fresh data directory and an ephemeral loopback port. */
export interface BenchService {
  url: string;
  app: App;
  dataDir: string;
  /** A token for the subject `bench`. */
  token: string;
  /** Stops the service and deletes its data directory. */
  stop(): Promise<void>;
}

/**
 * The configuration every bench service shares, then the production-shape variables of the
 * bench's own environment (see shape.ts), then `env`, which wins.
 */
async function benchConfig(
  env: Record<string, string>,
): Promise<{ config: Config; release: () => Promise<void> }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'image-pipeline-bench-'));
  const shape = await isolatedProductionShape();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ALLOW_PRIVATE_NETWORK: 'true',
    JWT_SECRET,
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    SHUTDOWN_GRACE_MS: '5000',
    RATE_LIMIT_REQUESTS: '1000000000',
    RATE_LIMIT_UPLOADS: '1000000',
    ...shape.env,
    ...env,
  });
  return { config, release: shape.release };
}

function loggerFor(config: Config) {
  return createLogger({ ...config.log, stream: process.stderr });
}

/** The whole service, API and worker, as `npm start` runs it (`startService`). */
export async function startFullService(env: Record<string, string>): Promise<BenchService> {
  const { config, release } = await benchConfig(env);
  const service = await startService(config, loggerFor(config));

  return {
    url: service.url,
    app: service.app,
    dataDir: config.dataDir,
    token: signToken(JWT_SECRET, 'bench'),
    stop: async () => {
      await service.stop();
      await rm(config.dataDir, { recursive: true, force: true });
      await release();
    },
  };
}

/**
 * The API alone: the same HTTP server, app and schema as `startService` wires them, but no
 * worker, so nothing processes images while uploads are measured. Jobs stay queued in memory.
 */
export async function startApiOnly(env: Record<string, string>): Promise<BenchService> {
  const { config, release } = await benchConfig(env);
  const logger = loggerFor(config);
  const http = await HttpServer.listen(config, logger);
  const app = await createApp(config, logger, http.publicUrl);
  const verify = createTokenVerifier({ ...config.jwt, secret: JWT_SECRET });
  await http.mount(app, await buildGraphQLSchema(createContainer(app)), verify);

  return {
    url: http.url,
    app,
    dataDir: config.dataDir,
    token: signToken(JWT_SECRET, 'bench'),
    stop: async () => {
      await http.close();
      await closeApp(app, 0);
      await rm(config.dataDir, { recursive: true, force: true });
      await release();
    },
  };
}

/**
 * Resolves with a request's status once it has ended. Subscribes first, then reads the
 * database, so an end that happened before the subscription is not missed.
 */
export function waitForEnd(app: App, requestId: string): Promise<RequestStatus> {
  return new Promise<RequestStatus>((resolve, reject) => {
    let unsubscribe: (() => void) | undefined;
    let ended: RequestStatus | undefined;
    const settle = (status: RequestStatus) => {
      ended = status;
      unsubscribe?.();
      resolve(status);
    };

    app.events
      .subscribe(requestId, (event) => {
        if (isTerminal(event.status)) settle(event.status);
      })
      .then(async (off) => {
        unsubscribe = off;
        if (ended !== undefined) off();
        const request = await app.repositories.requests.findById(requestId);
        if (!request) throw new Error(`No request ${requestId} in the database`);
        if (isTerminal(request.status)) settle(request.status);
      })
      .catch(reject);
  });
}

/** Files directly in `dir`; 0 when it does not exist. */
export async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile()).length;
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

/** Where the service keeps one request's processed images. */
export function imagesDir(service: BenchService, requestId: string): string {
  return path.join(service.dataDir, 'files', 'requests', requestId, 'images');
}
