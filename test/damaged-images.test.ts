import { readFile } from 'node:fs/promises';

import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { hasBrokenContainer } from '../src/images/image.container.ts';
import { toTransformError } from '../src/images/image.errors.ts';
import { configureSharp, transformImage } from '../src/images/image.transformer.ts';
import type { TransformOptions } from '../src/images/image.transformer.ts';

/**
 * libvips keeps its error text in one buffer for the whole process and clears it whenever an
 * operation ends, so a damaged image failing next to others often reports "Unknown error", or
 * another image's words. These tests check that such an image is still called damaged.
 */

const OPTIONS: TransformOptions = {
  quality: 50,
  format: 'ORIGINAL',
  keepMetadata: false,
  maxPixels: 100_000_000,
};

const DAMAGED = 'CORRUPT_IMAGE: The image is damaged or incomplete and could not be decoded';

function fixture(name: string): Promise<Buffer> {
  return readFile(new URL(`./fixtures/images/${name}`, import.meta.url));
}

/** The first `fraction` of a fixture, as a download cut off part way gives it. */
async function cut(name: string, fraction: number): Promise<Buffer> {
  const whole = await fixture(name);
  return whole.subarray(0, Math.floor(whole.length * fraction));
}

/** A PNG fixture with one byte in the middle of its first IDAT (pixel data) chunk inverted. */
async function withPixelByteChanged(name: string): Promise<Buffer> {
  const png = Buffer.from(await fixture(name));
  const idat = png.indexOf('IDAT', 8, 'latin1');
  const at = idat + 4 + Math.floor(png.readUInt32BE(idat - 4) / 2);
  png.writeUInt8(png.readUInt8(at) ^ 0xff, at);
  return png;
}

/** Damaged files whose container shows the damage, by name. */
async function brokenContainers(): Promise<[string, Buffer][]> {
  return [
    ['truncated.jpg', await fixture('truncated.jpg')],
    ['half of progressive.jpg', await cut('progressive.jpg', 0.5)],
    [
      'half of photo-landscape-0.3mp.jpg, after its EXIF thumbnail',
      await cut('photo-landscape-0.3mp.jpg', 0.5),
    ],
    ['nine tenths of cmyk.jpg', await cut('cmyk.jpg', 0.9)],
    ['half of alpha.png', await cut('alpha.png', 0.5)],
    ['photo-16bit.png with a pixel byte changed', await withPixelByteChanged('photo-16bit.png')],
    ['nine tenths of photo.avif', await cut('photo.avif', 0.9)],
    ['half of photo-lossy.webp', await cut('photo-lossy.webp', 0.5)],
  ];
}

/** What a transform of `input` came to: `name: transformed`, or `name: CODE: message`. */
async function outcome(name: string, input: Buffer): Promise<string> {
  try {
    await transformImage(input, OPTIONS);
    return `${name}: transformed`;
  } catch (error: unknown) {
    if (!(error instanceof Error)) {
      return `${name}: threw ${String(error)}`;
    }
    return `${name}: ${'code' in error ? String(error.code) : error.name}: ${error.message}`;
  }
}

describe('damaged images transformed 45 at a time, between good photos', () => {
  afterAll(() => {
    sharp.cache(true);
    sharp.concurrency(0);
  });

  it.each([
    ['the cores shared out', undefined],
    ['VIPS_CONCURRENCY=1', 1],
  ])('reports every one as damaged with %s', async (_label, threads) => {
    configureSharp(4, threads);
    const tiff = (await fixture('photo-uncompressed.tiff')).subarray(0, 100_000);
    const damaged: [string, Buffer][] = [
      ...(await brokenContainers()),
      ['the first 100 kB of photo-uncompressed.tiff', tiff],
    ];
    const inputs = Array.from({ length: 5 }, () => damaged).flat();
    const good = await fixture('photo-landscape-0.3mp.jpg');

    const [damagedOutcomes, goodOutcomes] = await Promise.all([
      Promise.all(inputs.map(([name, input]) => outcome(name, input))),
      Promise.all(Array.from({ length: 10 }, () => outcome('good photo', good))),
    ]);

    expect(damagedOutcomes).toEqual(inputs.map(([name]) => `${name}: ${DAMAGED}`));
    expect(new Set(goodOutcomes)).toEqual(new Set(['good photo: transformed']));
  });
});

describe('hasBrokenContainer', () => {
  it('finds every damaged file broken', async () => {
    const broken = await brokenContainers();

    const missed = broken.filter(([, input]) => !hasBrokenContainer(input));

    expect(missed.map(([name]) => name)).toEqual([]);
  });

  it('finds every whole JPEG, PNG, WebP and AVIF fixture sound', async () => {
    const names = [
      'photo-landscape-0.3mp.jpg',
      'photo-saw-6mp.jpg',
      'photo-flowers-8mp.jpg',
      'progressive.jpg',
      'cmyk.jpg',
      'exif-orientation-6.jpg',
      'grayscale.jpg',
      'photo-16bit.png',
      'alpha.png',
      '1x1.png',
      'photo-lossy.webp',
      'photo.avif',
    ];

    const verdicts = await Promise.all(
      names.map(async (name) => ({ name, broken: hasBrokenContainer(await fixture(name)) })),
    );

    expect(verdicts.filter(({ broken }) => broken).map(({ name }) => name)).toEqual([]);
  });
});

describe('toTransformError when libvips lost its error text', () => {
  it('calls a JPEG cut short damaged', async () => {
    const error = toTransformError(new Error('Unknown error'), await fixture('truncated.jpg'));

    expect(error).toMatchObject({ code: 'CORRUPT_IMAGE' });
  });

  it('leaves the failure of a whole photo unexpected, as our fault', async () => {
    const unknown = new Error('Unknown error');

    expect(toTransformError(unknown, await fixture('photo-saw-6mp.jpg'))).toBe(unknown);
  });
});
