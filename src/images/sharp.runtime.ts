import { availableParallelism } from 'node:os';

import sharp from 'sharp';

import { assertIntegerIn } from './image.options.ts';

/**
 * Tunes libvips for a worker that transforms `concurrency` images at once: its operation cache is
 * turned off, since every image is new and the cache only holds memory (C-08), and each image
 * gets max(1, floor(cores / concurrency)) threads so the worker does not oversubscribe the CPU.
 * Process-wide; call once at worker start.
 *
 * @param concurrency - images processed at once, an integer of at least 1.
 * @throws RangeError when `concurrency` is not a positive integer.
 */
export function configureSharp(concurrency: number): void {
  assertIntegerIn('concurrency', concurrency, 1, Number.MAX_SAFE_INTEGER);

  sharp.cache(false);
  sharp.concurrency(Math.max(1, Math.floor(availableParallelism() / concurrency)));
}
