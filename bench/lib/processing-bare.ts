import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import sharp from 'sharp';

import { runPool } from './pool.ts';
import { countFiles } from './service-harness.ts';
import type { StepTimer } from './steps.ts';

/** What a mode reports besides its timing. */
export interface ModeOutcome {
  completed: number;
  failed: number;
  storedFiles: number;
  status: string;
}

/** A mode split into what is measured and what is not. */
export interface PreparedMode {
  /**
   * The same work on other URLs, not measured nor counted: code compiled, first plans made,
   * connections open, as in a service that has been running a while.
   */
  warmUp(urls: readonly string[]): Promise<void>;
  /** The measured work. */
  run(): Promise<void>;
  /** Counts outputs and cleans up; not measured. */
  finish(): Promise<ModeOutcome>;
}

async function fetchPhoto(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`Photo server answered HTTP ${res.status} for ${url}`);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * The floor the service is compared with: at most `concurrency` images in flight, each
 * fetched, auto-oriented and re-encoded as JPEG at quality 50 with sharp's defaults, and
 * written to a temporary folder. No database, queue, events or checks.
 */
export async function prepareBare(
  urls: readonly string[],
  concurrency: number,
  steps: StepTimer,
): Promise<PreparedMode> {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'image-pipeline-bench-bare-'));
  let completed = 0;

  const convert = async (url: string, file: string) => {
    const input = await steps.time('fetch', () => fetchPhoto(url));
    const output = await steps.time('transform', () =>
      sharp(input).rotate().jpeg({ quality: 50 }).toBuffer(),
    );
    await steps.time('store', () => writeFile(file, output));
  };

  return {
    warmUp: async (warmUpUrls) => {
      const warmUpDir = await mkdtemp(path.join(os.tmpdir(), 'image-pipeline-bench-warm-up-'));
      await runPool(warmUpUrls.length, concurrency, (index) =>
        convert(warmUpUrls[index] ?? '', path.join(warmUpDir, `${index}.jpg`)),
      );
      await rm(warmUpDir, { recursive: true, force: true });
    },
    run: () =>
      runPool(urls.length, concurrency, async (index) => {
        await convert(urls[index] ?? '', path.join(outDir, `${index}.jpg`));
        completed += 1;
      }),
    finish: async () => {
      const storedFiles = await countFiles(outDir);
      await rm(outDir, { recursive: true, force: true });
      return { completed, failed: urls.length - completed, storedFiles, status: 'DONE' };
    },
  };
}
