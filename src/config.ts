import { createPublicKey } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

import { z } from 'zod';

/**
 * The service's configuration, read once from the environment into a typed, frozen object.
 * Nothing else in the service reads `process.env`. Every variable is documented in README.md.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, { error: 'expected a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const url = (protocols: string[]) =>
  z.string().refine((v) => URL.canParse(v) && protocols.includes(new URL(v).protocol), {
    error: `expected a ${protocols.map((p) => p.replace(':', '')).join(' or ')} URL`,
  });

function isPublicKey(pem: string): boolean {
  try {
    createPublicKey(pem);
    return true;
  } catch {
    return false;
  }
}

const trustProxy = z
  .string()
  .refine((v) => /^(true|false|\d+)$/.test(v), { error: 'expected true, false or a hop count' })
  .transform((v) => (v === 'true' ? true : v === 'false' ? false : Number(v)));

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: url(['postgresql:', 'postgres:']).optional(),
  DATABASE_POOL_SIZE: int(1, 1000).default(10),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, { error: 'expected letters, digits, "_", "." or "-"' })
    .default('image-pipeline'),
  QUEUE_LOCK_MS: int(1000).default(30_000),
  QUEUE_STALLED_INTERVAL_MS: int(500).default(15_000),
  QUEUE_ATTEMPTS: int(1, 100).default(5),
  S3_BUCKET: z.string().min(1).optional(),
  S3_ENDPOINT: url(['http:', 'https:']).optional(),
  S3_REGION: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: bool.optional(),
  S3_PUBLIC_URL: url(['http:', 'https:']).optional(),
  JWT_SECRET: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  JWT_PUBLIC_KEY: z
    .string()
    .min(1)
    .refine(isPublicKey, { error: 'expected a PEM public key (RS256 or ES256)' })
    .optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  JWT_CLOCK_TOLERANCE_SEC: int(0, 300).default(30),
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  TRUST_PROXY: trustProxy.default(false),
  ALLOW_PRIVATE_NETWORK: bool.default(false),
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  WORKER_CONCURRENCY: int(1, 256).default(os.availableParallelism()),
  VIPS_CONCURRENCY: int(1, 1024).optional(),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  METRICS_TOKEN: z.string().min(1).optional(),
  PLAYGROUND: bool.default(true),
  IMAGE_QUALITY: int(1, 100).default(50),
  MAX_CSV_BYTES: int(1).default(50 * 1024 * 1024),
  MAX_CSV_ROWS: int(1).default(100_000),
  MAX_URLS_PER_ROW: int(1).default(50),
  MAX_IMAGES_PER_REQUEST: int(1).default(300_000),
  MAX_URL_LENGTH: int(10).default(2048),
  MAX_NAME_LENGTH: int(1).default(500),
  MAX_IMAGE_BYTES: int(1).default(25 * 1024 * 1024),
  MAX_IMAGE_PIXELS: int(1).default(100_000_000),
  FETCH_TIMEOUT_MS: int(100).default(30_000),
  FETCH_MAX_REDIRECTS: int(0, 20).default(3),
  SHUTDOWN_GRACE_MS: int(0).default(25_000),
  WEBHOOK_TIMEOUT_MS: int(100).default(10_000),
  WEBHOOK_RETRY_DELAYS_MS: z
    .string()
    .regex(/^\d+(,\d+)*$/, { error: 'expected whole numbers of milliseconds separated by commas' })
    .default('5000,300000,1800000,7200000,18000000,36000000,36000000,36000000,36000000')
    .transform((v) => v.split(',').map(Number)),
  WEBHOOK_POLL_MS: int(10).default(1_000),
  WEBHOOK_CONCURRENCY: int(1, 100).default(4),
  GRAPHQL_MAX_DEPTH: int(1, 100).default(12),
  GRAPHQL_MAX_ALIASES: int(0, 1000).default(15),
  GRAPHQL_MAX_TOKENS: int(1).default(2_000),
  GRAPHQL_MAX_DIRECTIVES: int(0).default(20),
  GRAPHQL_MAX_COMPLEXITY: int(1).default(200_000),
  RATE_LIMIT_WINDOW_MS: int(1000).default(60_000),
  RATE_LIMIT_UPLOADS: int(1).default(30),
  RATE_LIMIT_REQUESTS: int(1).default(1_200),
  /** Unset: `<QUEUE_PREFIX>:rate-limit:`, so deployments apart by QUEUE_PREFIX share no budget. */
  RATE_LIMIT_REDIS_PREFIX: z.string().min(1).optional(),
  CORS_ORIGINS: z
    .string()
    .refine(
      (v) =>
        v
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean)
          .every((o) => URL.canParse(o) && new URL(o).origin === o.replace(/\/+$/, '')),
      { error: 'expected origins such as https://app.example.com, separated by commas' },
    )
    .optional(),
  WS_KEEPALIVE_MS: int(100).default(12_000),
  WS_MAX_PAYLOAD_BYTES: int(1024).default(64 * 1024),
  WS_MAX_CONNECTIONS_PER_SUBJECT: int(1, 10_000).default(20),
});

export type Env = z.input<typeof envSchema>;

/** Thrown when a variable is malformed; its message is the one line printed at start. */
export class ConfigError extends Error {}

function formatIssue(issue: z.core.$ZodIssue, env: Record<string, string | undefined>): string {
  const name = String(issue.path[0] ?? 'environment');
  const value = env[name];
  const shown =
    value === undefined || /SECRET|TOKEN|KEY|DATABASE_URL|REDIS_URL/.test(name)
      ? ''
      : ` (got "${value}")`;
  return `${name}: ${issue.message}${shown}`;
}

/**
 * Builds the configuration from an environment map.
 *
 * @param env - variables as strings; empty strings count as unset
 * @throws ConfigError naming each bad variable on one line
 */
export function loadConfig(env: Record<string, string | undefined> = process.env) {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      `Invalid configuration: ${parsed.error.issues.map((i) => formatIssue(i, cleaned)).join('; ')}`,
    );
  }
  const e = parsed.data;

  if ((e.ROLE === 'api' || e.ROLE === 'worker') && (!e.DATABASE_URL || !e.REDIS_URL)) {
    throw new ConfigError(
      `Invalid configuration: ROLE: "${e.ROLE}" needs DATABASE_URL and REDIS_URL, since the embedded database and queue belong to one process`,
    );
  }
  if (Boolean(e.TLS_CERT_FILE) !== Boolean(e.TLS_KEY_FILE)) {
    throw new ConfigError(
      'Invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE must be set together',
    );
  }

  const dataDir = path.resolve(e.DATA_DIR);

  return Object.freeze({
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    /** PUBLIC_URL as set; unset means `<scheme>://localhost:<the port bound>`. */
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    dataDir,
    role: e.ROLE,
    database: Object.freeze({
      url: e.DATABASE_URL,
      poolSize: e.DATABASE_POOL_SIZE,
      pgliteDir: path.join(dataDir, 'db'),
    }),
    redisUrl: e.REDIS_URL,
    queue: Object.freeze({
      prefix: e.QUEUE_PREFIX,
      lockMs: e.QUEUE_LOCK_MS,
      stalledIntervalMs: e.QUEUE_STALLED_INTERVAL_MS,
      attempts: e.QUEUE_ATTEMPTS,
    }),
    storage: Object.freeze({
      filesDir: path.join(dataDir, 'files'),
      s3: e.S3_BUCKET
        ? Object.freeze({
            bucket: e.S3_BUCKET,
            endpoint: e.S3_ENDPOINT,
            region: e.S3_REGION,
            forcePathStyle: e.S3_FORCE_PATH_STYLE ?? Boolean(e.S3_ENDPOINT),
            publicUrl: e.S3_PUBLIC_URL?.replace(/\/+$/, ''),
          })
        : undefined,
    }),
    jwt: Object.freeze({
      secret: e.JWT_SECRET,
      publicKey: e.JWT_PUBLIC_KEY,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      clockToleranceSec: e.JWT_CLOCK_TOLERANCE_SEC,
    }),
    tls:
      e.TLS_CERT_FILE && e.TLS_KEY_FILE
        ? Object.freeze({ certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE })
        : undefined,
    trustProxy: e.TRUST_PROXY,
    log: Object.freeze({
      level: e.LOG_LEVEL,
      format: e.LOG_FORMAT ?? (e.NODE_ENV === 'production' ? 'json' : 'pretty'),
    }),
    metricsToken: e.METRICS_TOKEN,
    /** GET /graphql from a browser answers the GraphiQL page; off in production if you like. */
    playground: e.PLAYGROUND,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    rateLimits: Object.freeze({
      windowMs: e.RATE_LIMIT_WINDOW_MS,
      uploads: e.RATE_LIMIT_UPLOADS,
      requests: e.RATE_LIMIT_REQUESTS,
      /** Put before every rate-limit key in Redis (used only with REDIS_URL). */
      redisPrefix: e.RATE_LIMIT_REDIS_PREFIX ?? `${e.QUEUE_PREFIX}:rate-limit:`,
    }),
    /** Origins whose pages may call the API from a browser; empty means same-origin only. */
    corsOrigins: Object.freeze(
      (e.CORS_ORIGINS ?? '')
        .split(',')
        .map((o) => o.trim().replace(/\/+$/, ''))
        .filter(Boolean),
    ),
    graphql: Object.freeze({
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxDirectives: e.GRAPHQL_MAX_DIRECTIVES,
      maxComplexity: e.GRAPHQL_MAX_COMPLEXITY,
    }),
    webhooks: Object.freeze({
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      retryDelaysMs: Object.freeze(e.WEBHOOK_RETRY_DELAYS_MS),
      pollMs: e.WEBHOOK_POLL_MS,
      concurrency: e.WEBHOOK_CONCURRENCY,
      allowPrivateNetwork: e.ALLOW_PRIVATE_NETWORK,
    }),
    websocket: Object.freeze({
      keepAliveMs: e.WS_KEEPALIVE_MS,
      maxPayloadBytes: e.WS_MAX_PAYLOAD_BYTES,
      maxConnectionsPerSubject: e.WS_MAX_CONNECTIONS_PER_SUBJECT,
    }),
    processing: Object.freeze({
      concurrency: e.WORKER_CONCURRENCY,
      /** libvips threads per image (VIPS_CONCURRENCY); unset: shared out by configureSharp. */
      vipsThreads: e.VIPS_CONCURRENCY,
      defaultQuality: e.IMAGE_QUALITY,
      maxImagePixels: e.MAX_IMAGE_PIXELS,
    }),
    fetch: Object.freeze({
      maxBytes: e.MAX_IMAGE_BYTES,
      timeoutMs: e.FETCH_TIMEOUT_MS,
      maxRedirects: e.FETCH_MAX_REDIRECTS,
      allowPrivateNetwork: e.ALLOW_PRIVATE_NETWORK,
    }),
    limits: Object.freeze({
      csvBytes: e.MAX_CSV_BYTES,
      csvRows: e.MAX_CSV_ROWS,
      urlsPerRow: e.MAX_URLS_PER_ROW,
      imagesPerRequest: e.MAX_IMAGES_PER_REQUEST,
      urlLength: e.MAX_URL_LENGTH,
      nameLength: e.MAX_NAME_LENGTH,
    }),
  });
}

export type Config = ReturnType<typeof loadConfig>;

/**
 * The configuration from this process's environment with some variables set or defaulted by
 * the caller (the demo and other command-line tools).
 *
 * @param defaults - used where the environment leaves a variable unset
 * @param overrides - used whatever the environment says
 */
export function loadConfigWith(
  defaults: Record<string, string>,
  overrides: Record<string, string> = {},
): Config {
  return loadConfig({ ...defaults, ...process.env, ...overrides });
}
