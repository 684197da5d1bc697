import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import S3rver from 's3rver';

/**
 * Credentials s3rver accepts, given to the SDK through its usual chain (the environment), and
 * no way for that chain to reach further: no profile files, no instance metadata.
 */
export function useTestAwsCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_CONFIG_FILE = path.join(os.tmpdir(), 'image-pipeline-no-aws-config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(os.tmpdir(), 'image-pipeline-no-aws-creds');
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_REGION;
  delete process.env.AWS_DEFAULT_REGION;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * Records the host of every HTTP request this process makes, so a test file can assert that
 * none went beyond loopback (no AWS, no instance-metadata address).
 */
export function recordOutgoingHosts(): { hosts: Set<string>; nonLoopback: () => string[] } {
  const hosts = new Set<string>();
  diagnostics.subscribe('http.client.request.start', (message) => {
    const { request } = message as { request: ClientRequest };
    hosts.add(request.host);
  });
  return { hosts, nonLoopback: () => [...hosts].filter((h) => !LOOPBACK.has(h)) };
}

/** A real S3-protocol server (s3rver) on 127.0.0.1, an ephemeral port and a temporary directory. */
export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** The service variables that select this store. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startS3(bucket = 'images'): Promise<TestS3> {
  useTestAwsCredentials();
  const directory = await mkdtemp(path.join(os.tmpdir(), 'image-pipeline-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;

  return {
    endpoint,
    bucket,
    env: { S3_BUCKET: bucket, S3_ENDPOINT: endpoint },
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
