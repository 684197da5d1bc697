import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';

import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

import { loadConfig } from '../../src/config.ts';
import type { RequestStatus } from '../../src/domain/request.ts';
import { isTerminal } from '../../src/domain/request.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Service, ServiceOptions } from '../../src/service.ts';
import { devToken, startService } from '../../src/service.ts';
import { shapeResources } from './shape.ts';

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown>; path?: unknown[] }[];
}

/** A service started in this process on a fresh data directory and an ephemeral port. */
export interface TestService {
  url: string;
  service: Service;
  dataDir: string;
  /** Everything the service logged, one JSON object per line. */
  logs: () => string;
  token(subject?: string, admin?: boolean): string;
  graphql<T, V>(
    document: TypedDocumentNode<T, V>,
    variables: V,
    token?: string | null,
  ): Promise<GraphQLResponse<T>>;
  upload(csv: string | Buffer, options?: UploadOptions): Promise<Response>;
  /** Resolves with the request's status once it has ended. */
  waitForEnd(requestId: string): Promise<RequestStatus>;
  stop(): Promise<void>;
}

export interface UploadOptions {
  token?: string | null;
  fileName?: string;
  preflight?: boolean;
  variables?: Record<string, unknown>;
  query?: string;
}

const UPLOAD_MUTATION = `mutation Upload($file: Upload!, $webhookUrl: String, $options: ProcessingOptionsInput) {
  uploadCsv(file: $file, webhookUrl: $webhookUrl, options: $options) {
    request { id status progress { total completed failed pending percent } }
  }
}`;

/**
 * Starts the service in this process on the shape TEST_SHAPE names (see `./shape.ts`): with
 * TEST_SHAPE=production, on a fresh PostgreSQL database and a Redis key prefix of its own.
 */
export async function startTestService(
  env: Record<string, string> = {},
  options: ServiceOptions = {},
): Promise<TestService> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'image-pipeline-test-'));
  const shape = await shapeResources();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ALLOW_PRIVATE_NETWORK: 'true',
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
    WORKER_CONCURRENCY: '2',
    LOG_LEVEL: 'debug',
    LOG_FORMAT: 'json',
    SHUTDOWN_GRACE_MS: '5000',
    // Tests upload far faster than people do; the limits have tests of their own.
    RATE_LIMIT_UPLOADS: '100000',
    RATE_LIMIT_REQUESTS: '100000',
    ...shape.env,
    WS_MAX_CONNECTIONS_PER_SUBJECT: '10000',
    ...env,
  });
  const captured: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => captured.push(chunk.toString()));
  const logger = createLogger({ ...config.log, stream });
  const service = await startService(config, logger, options).catch(async (error: unknown) => {
    await shape.release();
    throw error;
  });
  if (shape.env.REDIS_URL && service.app.queue.kind !== 'bullmq') {
    throw new Error('TEST_SHAPE=production started a service without its BullMQ queue');
  }
  const url = service.url;
  const token = (subject = 'alice', admin = false) => devToken(service, subject, admin);

  return {
    url,
    service,
    dataDir,
    logs: () => captured.join(''),
    token,
    async graphql(document, variables, bearer = token()) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(bearer && { authorization: `Bearer ${bearer}` }),
        },
        body: JSON.stringify({ query: print(document), variables }),
      });
      return { status: res.status, ...((await res.json()) as object) };
    },
    async upload(csv, options = {}) {
      const form = new FormData();
      form.append(
        'operations',
        JSON.stringify({
          query: options.query ?? UPLOAD_MUTATION,
          variables: { file: null, ...options.variables },
        }),
      );
      form.append('map', JSON.stringify({ 0: ['variables.file'] }));
      form.append('0', new Blob([csv], { type: 'text/csv' }), options.fileName ?? 'products.csv');
      const bearer = options.token === undefined ? token() : options.token;
      return fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          ...(options.preflight !== false && { 'apollo-require-preflight': 'true' }),
          ...(bearer && { authorization: `Bearer ${bearer}` }),
        },
        body: form,
      });
    },
    async waitForEnd(requestId) {
      const { events, repositories } = service.app;
      return new Promise<RequestStatus>((resolve, reject) => {
        let unsubscribe: (() => void) | undefined;
        const settle = (status: RequestStatus) => {
          unsubscribe?.();
          resolve(status);
        };
        events
          .subscribe(requestId, (event) => {
            if (isTerminal(event.status)) settle(event.status);
          })
          .then(async (off) => {
            unsubscribe = off;
            const request = await repositories.requests.findById(requestId);
            if (!request) {
              reject(new Error(`no request ${requestId}`));
              return;
            }
            if (isTerminal(request.status)) settle(request.status);
          })
          .catch(reject);
      });
    },
    async stop() {
      await service.stop();
      await shape.release();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The body of an upload answer, typed loosely for assertions. */
export interface UploadBody {
  data?: {
    uploadCsv: { request: { id: string; status: RequestStatus; progress: { total: number } } };
  } | null;
  errors?: {
    message: string;
    extensions?: {
      code?: string;
      problems?: { line: number; column: string | null; message: string }[];
      stacktrace?: unknown;
    };
  }[];
}
