import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { loadConfig } from '../../src/config.ts';
import { configureSharp, transformImage } from '../../src/images/image.transformer.ts';
import { createDownloader } from '../../src/processing/image.downloader.ts';
import { LocalStorage } from '../../src/storage/storage.local.ts';
import { storageKeys } from '../../src/storage/storage.ts';
import type { PreparedMode } from './processing-bare.ts';
import { runPool } from './pool.ts';
import { countFiles } from './service-harness.ts';
import type { StepTimer } from './steps.ts';

/**
 * A diagnostic between the two measured modes: the bare loop, but each image goes through the
 * service's own download (`createDownloader`), transform (`transformImage`, quality 50, format
 * ORIGINAL, sharp configured as the worker does) and store (`LocalStorage.put`). No database,
 * queue, events or HTTP upload. Against bare it prices the service's image code; against the
 * service, everything around it.
 */
export async function preparePipeline(
  urls: readonly string[],
  concurrency: number,
  steps: StepTimer,
): Promise<PreparedMode> {
  const config = loadConfig({ ALLOW_PRIVATE_NETWORK: 'true', DATA_DIR: os.tmpdir() });
  configureSharp(concurrency);
  const downloader = createDownloader(config.fetch);
  const root = await mkdtemp(path.join(os.tmpdir(), 'image-pipeline-bench-pipeline-'));
  const storage = new LocalStorage(root, 'http://localhost');
  const requestId = randomUUID();
  const options = { quality: 50, format: 'ORIGINAL' as const, keepMetadata: false };
  let completed = 0;

  const convert = async (url: string, underRequest: string) => {
    const input = await steps.time('fetch', () => downloader.download(url));
    const result = await steps.time('transform', () =>
      transformImage(input, { ...options, maxPixels: config.processing.maxImagePixels }),
    );
    const key = storageKeys.image(underRequest, randomUUID(), result.extension);
    await steps.time('store', () => storage.put(key, result.data, result.contentType));
  };

  return {
    warmUp: async (warmUpUrls) => {
      const warmUpRequest = randomUUID();
      await runPool(warmUpUrls.length, concurrency, (index) =>
        convert(warmUpUrls[index] ?? '', warmUpRequest),
      );
    },
    run: () =>
      runPool(urls.length, concurrency, async (index) => {
        await convert(urls[index] ?? '', requestId);
        completed += 1;
      }),
    finish: async () => {
      downloader.close();
      const storedFiles = await countFiles(path.join(root, 'requests', requestId, 'images'));
      await rm(root, { recursive: true, force: true });
      return { completed, failed: urls.length - completed, storedFiles, status: 'DONE' };
    },
  };
}
