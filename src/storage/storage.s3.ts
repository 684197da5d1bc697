import { Readable } from 'node:stream';

import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { BucketLocationConstraint } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

import { ConfigError } from '../config.ts';
import type { Logger } from '../observability/logger.ts';
import { StorageError } from './storage.errors.ts';
import type { ObjectStorage } from './storage.ts';

/** How long a presigned GET URL stays valid: 7 days, the longest SigV4 allows. */
export const PRESIGNED_URL_TTL_SEC = 7 * 24 * 60 * 60;

/** The region used with `S3_ENDPOINT` when `S3_REGION` is unset; most S3-compatible stores accept it. */
export const DEFAULT_ENDPOINT_REGION = 'us-east-1';

/** Size of each part of a multipart upload; a body smaller than this is sent in one PUT. */
const PART_SIZE_BYTES = 8 * 1024 * 1024;

export interface S3StorageOptions {
  bucket: string;
  /** An S3-compatible store's URL; unset means AWS S3. */
  endpoint?: string;
  /** Unset: `us-east-1` with an endpoint, the SDK's region chain (`AWS_REGION`, profile) without. */
  region?: string;
  /** Bucket in the path (`/bucket/key`) instead of the host name (`bucket.host`). */
  forcePathStyle: boolean;
  /** Base URL objects are read from, key appended; unset means presigned GET URLs. */
  publicUrl?: string;
  /** Time to connect to the store before the attempt fails. @defaultValue 5000 */
  connectTimeoutMs?: number;
}

/**
 * Objects in one S3 bucket through the AWS SDK. Credentials come from the SDK's default chain
 * (environment, profile, container or instance role).
 *
 * With a custom endpoint the SDK's default checksums are turned off (sent only when an
 * operation requires them): many S3-compatible stores refuse `x-amz-checksum-*` headers and
 * `aws-chunked` bodies. Bodies always go through `lib-storage`, which buffers a stream of
 * unknown length into parts of known length, so no PUT is sent chunked.
 */
export class S3Storage implements ObjectStorage {
  readonly kind = 's3';

  constructor(
    private readonly client: S3Client,
    private readonly options: S3StorageOptions,
  ) {}

  async put(key: string, body: Buffer | Readable, contentType: string): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key: key, Body: body, ContentType: contentType },
      partSize: PART_SIZE_BYTES,
      leavePartsOnError: false,
    });
    await this.call(() => upload.done());
  }

  async get(key: string): Promise<Readable> {
    const command = new GetObjectCommand({ Bucket: this.options.bucket, Key: key });
    const answer = await this.call(() => this.client.send(command));
    if (!(answer.Body instanceof Readable)) {
      throw new StorageError('STORAGE_FAILED', `The object ${key} came back without a body.`);
    }
    return answer.Body;
  }

  urlFor(key: string): Promise<string> {
    if (this.options.publicUrl) {
      const encoded = key.split('/').map(encodeURIComponent).join('/');
      return Promise.resolve(`${this.options.publicUrl}/${encoded}`);
    }
    const command = new GetObjectCommand({ Bucket: this.options.bucket, Key: key });
    return getSignedUrl(this.client, command, { expiresIn: PRESIGNED_URL_TTL_SEC });
  }

  async ping(): Promise<void> {
    const command = new HeadBucketCommand({ Bucket: this.options.bucket });
    await this.call(() => this.client.send(command));
  }

  /**
   * Creates the bucket unless it exists (the set-up step of a new deployment). Outside
   * `us-east-1` the bucket is made in the configured region.
   *
   * @returns true when this call created it
   */
  async ensureBucket(): Promise<boolean> {
    try {
      await this.ping();
      return false;
    } catch (error: unknown) {
      if (!(error instanceof StorageError && error.code === 'BUCKET_NOT_FOUND')) throw error;
    }

    const region = this.options.region;
    const command = new CreateBucketCommand({
      Bucket: this.options.bucket,
      ...(region &&
        region !== DEFAULT_ENDPOINT_REGION && {
          CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint },
        }),
    });
    await this.call(() => this.client.send(command));
    return true;
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }

  /** Runs one SDK call, turning its failure into a StorageError. */
  private async call<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error: unknown) {
      throw toStorageError(error, this.options.bucket);
    }
  }
}

/** Error names the SDK and Node give a request that never got an answer. */
const NO_ANSWER = /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|TimeoutError/;

function toStorageError(error: unknown, bucket: string): StorageError {
  if (error instanceof StorageError) return error;
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode;
    if (error.name === 'NoSuchBucket' || (error.name === 'NotFound' && status === 404)) {
      return new StorageError('BUCKET_NOT_FOUND', `The bucket "${bucket}" does not exist.`, {
        cause: error,
      });
    }
    if (error.name === 'NoSuchKey') {
      return new StorageError('OBJECT_NOT_FOUND', 'The object does not exist.', { cause: error });
    }
    if (status === 401 || status === 403) {
      return new StorageError(
        'ACCESS_DENIED',
        `Access to the bucket "${bucket}" was refused (HTTP ${status}); check the credentials and the bucket policy.`,
        { cause: error },
      );
    }
    return new StorageError(
      'STORAGE_FAILED',
      `The store answered ${error.name} (HTTP ${status ?? 'unknown'}).`,
      { cause: error },
    );
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const name = error instanceof Error ? error.name : '';
  if (NO_ANSWER.test(`${code ?? ''} ${name}`)) {
    return new StorageError(
      'STORAGE_UNREACHABLE',
      `The S3 endpoint could not be reached (${code ?? name}).`,
      { cause: error },
    );
  }
  return new StorageError(
    'STORAGE_FAILED',
    `The S3 call failed: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}

/**
 * Builds the S3 store and settles its region now, so a missing one stops the start with a clear
 * line instead of failing the first upload. Sends nothing to the store: whether the bucket
 * exists and answers is what `/readyz` reports.
 *
 * @throws ConfigError when no region is set for AWS S3
 */
export async function createS3Storage(
  options: S3StorageOptions,
  logger: Logger,
): Promise<S3Storage> {
  const region = options.region ?? (options.endpoint ? DEFAULT_ENDPOINT_REGION : undefined);
  const custom = options.endpoint !== undefined;
  const client = new S3Client({
    region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    requestChecksumCalculation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    responseChecksumValidation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    requestHandler: { connectionTimeout: options.connectTimeoutMs ?? 5_000 },
  });

  const resolved = await client.config.region().catch(() => '');
  if (!resolved) {
    client.destroy();
    throw new ConfigError(
      'Invalid configuration: S3_REGION: no region is set for AWS S3; set S3_REGION (or AWS_REGION), or S3_ENDPOINT for an S3-compatible store',
    );
  }

  logger.info('object storage: S3', {
    bucket: options.bucket,
    endpoint: options.endpoint ?? 'AWS',
    region: resolved,
    regionSource: options.region ? 'S3_REGION' : custom ? 'default for S3_ENDPOINT' : 'AWS chain',
    forcePathStyle: options.forcePathStyle,
    urls: options.publicUrl ? 'S3_PUBLIC_URL' : `presigned, valid ${PRESIGNED_URL_TTL_SEC} s`,
  });
  return new S3Storage(client, { ...options, region: resolved });
}
