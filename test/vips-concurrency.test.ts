import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../src/config.ts';
import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

/**
 * libvips' own VIPS_CONCURRENCY, honoured by the worker: several worker processes on one
 * machine each take all its cores by default (cores ÷ WORKER_CONCURRENCY threads an image).
 */

let service: TestService;

beforeAll(async () => {
  service = await startTestService({ WORKER_CONCURRENCY: '1', VIPS_CONCURRENCY: '1' });
});
afterAll(async () => {
  await service.stop();
  sharp.concurrency(0);
});

describe('VIPS_CONCURRENCY', () => {
  // Without it, WORKER_CONCURRENCY=1 gives each image every core: on two or more cores this
  // test then fails.
  it('holds a started worker to that many libvips threads an image', () => {
    expect(sharp.concurrency()).toBe(1);
  });

  it('stops the start with a line naming it when it is not a whole number above 0', () => {
    expect(() => loadConfig({ VIPS_CONCURRENCY: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ VIPS_CONCURRENCY: 'two' })).toThrow(/VIPS_CONCURRENCY/);
  });

  it('leaves the threads to WORKER_CONCURRENCY when unset', () => {
    expect(loadConfig({}).processing.vipsThreads).toBeUndefined();
  });
});
