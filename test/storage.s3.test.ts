import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError } from '../src/config.ts';
import { createLogger } from '../src/observability/logger.ts';
import { StorageError } from '../src/storage/storage.errors.ts';
import type { S3Storage, S3StorageOptions } from '../src/storage/storage.s3.ts';
import { createS3Storage } from '../src/storage/storage.s3.ts';
import { IMAGES_DIR } from './helpers/image-server.ts';
import { cleanUpProcesses, spawnNode } from './helpers/process.ts';
import type { TestS3 } from './helpers/s3.ts';
import { recordOutgoingHosts, startS3 } from './helpers/s3.ts';

const logger = createLogger({ level: 'error', format: 'json' });
const outgoing = recordOutgoingHosts();
let s3: TestS3;
let store: S3Storage;

function options(extra: Partial<S3StorageOptions> = {}): S3StorageOptions {
  return { bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, ...extra };
}

/** A stream that never says how long it is, as a transform or a CSV writer produces. */
function unknownLength(chunks: number, chunkBytes: number): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < chunks; i += 1) yield Buffer.alloc(chunkBytes, 97 + (i % 26));
    })(),
  );
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  s3 = await startS3();
  store = await createS3Storage(options(), logger);
});
afterAll(async () => {
  await cleanUpProcesses();
  await store.close();
  await s3.stop();
  expect(outgoing.nonLoopback()).toEqual([]);
  expect([...outgoing.hosts]).toContain('127.0.0.1');
});

describe('S3 storage against an S3-protocol server', () => {
  it('stores an image and hands out a presigned URL that serves it with its content type', async () => {
    const jpeg = await readFile(path.join(IMAGES_DIR, 'photo-landscape-0.3mp.jpg'));

    await store.put('requests/r1/images/i1.jpg', jpeg, 'image/jpeg');
    const url = await store.urlFor('requests/r1/images/i1.jpg');
    const res = await fetch(url);

    expect(url).toContain('X-Amz-Expires=604800');
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await res.arrayBuffer()).equals(jpeg)).toBe(true);
  });

  it('stores a stream of unknown length and reads it back whole', async () => {
    await store.put('requests/r1/output.csv', unknownLength(40, 1000), 'text/csv; charset=utf-8');

    const body = await text(await store.get('requests/r1/output.csv'));

    expect(body).toHaveLength(40_000);
    expect(body.slice(0, 3)).toBe('aaa');
  });

  it('stores a stream larger than one part as a multipart upload', async () => {
    const bytes = 9 * 1024 * 1024;

    await store.put('requests/r2/output.csv', unknownLength(9, 1024 * 1024), 'text/csv');
    const res = await fetch(await store.urlFor('requests/r2/output.csv'));

    expect(res.headers.get('content-type')).toBe('text/csv');
    expect((await res.arrayBuffer()).byteLength).toBe(bytes);
  });

  it('hands out S3_PUBLIC_URL with the key appended when one is set', async () => {
    const publicStore = await createS3Storage(
      options({ publicUrl: `${s3.endpoint}/${s3.bucket}` }),
      logger,
    );

    const url = await publicStore.urlFor('requests/r1/images/i1.jpg');
    await publicStore.close();

    expect(url).toBe(`${s3.endpoint}/${s3.bucket}/requests/r1/images/i1.jpg`);
  });

  it('answers ping while the bucket is there', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('rejects a read of a key that was never stored', async () => {
    await expect(store.get('requests/none/output.csv')).rejects.toMatchObject({
      code: 'OBJECT_NOT_FOUND',
    });
  });
});

describe('creating the bucket', () => {
  it('creates a missing bucket once, and then finds it', async () => {
    const fresh = await createS3Storage(options({ bucket: 'made-by-the-test' }), logger);

    const first = await fresh.ensureBucket();
    const second = await fresh.ensureBucket();
    await fresh.ping();
    await fresh.close();

    expect([first, second]).toEqual([true, false]);
  });

  it('is what `npm run bucket:create` does, with the service variables', async () => {
    const env = {
      S3_BUCKET: 'made-by-the-cli',
      S3_ENDPOINT: s3.endpoint,
      LOG_FORMAT: 'json',
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: process.env.AWS_CONFIG_FILE,
      AWS_SHARED_CREDENTIALS_FILE: process.env.AWS_SHARED_CREDENTIALS_FILE,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };

    const run = spawnNode(['--import', 'tsx', 'src/cli/create-bucket.ts'], env);
    const exit = await run.waitForExit(60_000);
    const made = await createS3Storage(options({ bucket: 'made-by-the-cli' }), logger);
    const ping = made.ping();
    await expect(ping).resolves.toBeUndefined();
    await made.close();

    expect(exit.code).toBe(0);
    expect(run.stdout.join('\n')).toContain('bucket created');
  });
});

describe('S3 storage when the store is not usable', () => {
  it('names a bucket that does not exist, on ping and on put', async () => {
    const missing = await createS3Storage(options({ bucket: 'no-such-bucket' }), logger);

    const ping = missing.ping().catch((error: unknown) => error);
    const put = missing.put('a.txt', Buffer.from('x'), 'text/plain').catch((e: unknown) => e);
    const [pingError, putError] = await Promise.all([ping, put]);
    await missing.close();

    expect(pingError).toBeInstanceOf(StorageError);
    expect(pingError).toMatchObject({ code: 'BUCKET_NOT_FOUND' });
    expect((pingError as Error).message).toContain('"no-such-bucket" does not exist');
    expect(putError).toMatchObject({ code: 'BUCKET_NOT_FOUND' });
  });

  it('reports an endpoint that refuses connections as unreachable', async () => {
    const port = await closedPort();
    const down = await createS3Storage(options({ endpoint: `http://127.0.0.1:${port}` }), logger);

    const error = await down.put('a.txt', Buffer.from('x'), 'text/plain').catch((e: unknown) => e);
    await down.close();

    expect(error).toMatchObject({ code: 'STORAGE_UNREACHABLE' });
    expect((error as Error).message).toContain('ECONNREFUSED');
  });

  it('stops at creation, before any request, when AWS S3 has no region', async () => {
    const before = outgoing.hosts.size;

    const creating = createS3Storage({ bucket: 'b', forcePathStyle: false }, logger);

    await expect(creating).rejects.toBeInstanceOf(ConfigError);
    await expect(creating).rejects.toThrow(/S3_REGION/);
    expect(outgoing.hosts.size).toBe(before);
  });
});
