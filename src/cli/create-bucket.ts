/**
 * Creates the `S3_BUCKET` bucket when it does not exist yet, with the same S3 settings as the
 * service (`S3_ENDPOINT`, `S3_REGION`, the SDK's credential chain). Run it once when setting up
 * a deployment; compose.yaml runs it before the API and the workers start.
 *
 *   npm run bucket:create          (in the image: node dist/src/cli/create-bucket.js)
 */
import { ConfigError, loadConfig } from '../config.ts';
import { createLogger } from '../observability/logger.ts';
import { StorageError } from '../storage/storage.errors.ts';
import { createS3Storage } from '../storage/storage.s3.ts';

try {
  const config = loadConfig();
  const logger = createLogger(config.log);
  if (!config.storage.s3) {
    console.error('S3_BUCKET is not set: there is no bucket to create (files stay on disk).');
    process.exit(2);
  }

  const storage = await createS3Storage(config.storage.s3, logger);
  const created = await storage.ensureBucket().finally(() => storage.close());
  logger.info(created ? 'bucket created' : 'bucket already exists', {
    bucket: config.storage.s3.bucket,
  });
} catch (error: unknown) {
  if (!(error instanceof ConfigError || error instanceof StorageError)) throw error;
  console.error(error.message);
  process.exit(1);
}
