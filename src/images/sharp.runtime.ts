import { availableParallelism } from 'node:os';

import sharp from 'sharp';

import { assertIntegerIn } from './image.options.ts';

/**
 * Tunes libvips for a worker that transforms `concurrency` images at once: its operation cache is
 * turned off, since every image is new and the cache only holds memory (C-08), and each image
 * gets `threads` threads, by default max(1, floor(cores / concurrency)) so the worker does not
 * oversubscribe the CPU. Process-wide; call once at worker start.
 *
 * @param concurrency - images processed at once, an integer of at least 1.
 * @param threads - libvips threads per image (the `VIPS_CONCURRENCY` the service honours), when
 *   the operator sets it: e.g. 1 for several worker processes on one machine.
 * @throws RangeError when `concurrency` or `threads` is not a positive integer.
 */
export function configureSharp(concurrency: number, threads?: number): void {
  assertIntegerIn('concurrency', concurrency, 1, Number.MAX_SAFE_INTEGER);
  if (threads !== undefined) assertIntegerIn('threads', threads, 1, Number.MAX_SAFE_INTEGER);

  sharp.cache(false);
  sharp.concurrency(threads ?? Math.max(1, Math.floor(availableParallelism() / concurrency)));
}
