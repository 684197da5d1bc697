import { readFile } from 'node:fs/promises';

import sharp from 'sharp';
import type { Colour } from 'sharp';
import { describe, expect, it } from 'vitest';

import { transformImage } from '../src/images/image.transformer.ts';
import type { TransformOptions } from '../src/images/image.transformer.ts';

/**
 * What the transformer writes, checked on decoded pixels (sharp's raw output) rather than on
 * metadata alone: the colour of given pixels, the channels and depth of the pixel buffer, and
 * the content of each frame of an animation.
 */

const DEFAULTS: TransformOptions = {
  quality: 50,
  format: 'ORIGINAL',
  keepMetadata: false,
  maxPixels: 100_000_000,
};

function fixture(name: string): Promise<Buffer> {
  return readFile(new URL(`./fixtures/images/${name}`, import.meta.url));
}

function transform(input: Buffer, options: Partial<TransformOptions> = {}) {
  return transformImage(input, { ...DEFAULTS, ...options });
}

/** Decoded pixels of `data` (of one frame when `page` is given), as sharp's raw buffer. */
async function pixels(data: Buffer, page?: number) {
  const image = page === undefined ? sharp(data) : sharp(data, { page });
  const { data: raw, info } = await image.raw({ depth: 'uchar' }).toBuffer({
    resolveWithObject: true,
  });
  const at = (x: number, y: number): number[] => {
    const offset = (y * info.width + x) * info.channels;
    return [...raw.subarray(offset, offset + info.channels)];
  };
  return { raw, info, at };
}

/** Asserts every channel of `actual` is within `tolerance` of `expected`. */
function expectPixelNear(actual: number[], expected: number[], tolerance: number): void {
  expect(actual).toHaveLength(expected.length);
  const offBy = actual.map((value, i) => Math.abs(value - (expected[i] ?? Infinity)));
  expect(Math.max(...offBy), `pixel ${actual.join()} against ${expected.join()}`).toBeLessThan(
    tolerance + 1,
  );
}

/** A `width`×`height` image, its left half `left` and its right half `right`. */
function halves(width: number, height: number, left: Colour, right: Colour) {
  const half = { width: width / 2, height, channels: 3 as const };
  return sharp({ create: { width, height, channels: 3, background: left } }).composite([
    {
      input: { create: { ...half, background: right } },
      left: width / 2,
      top: 0,
    },
  ]);
}

describe('orientation, on pixels', () => {
  it('turns a JPEG tagged orientation 6 a quarter clockwise: its left half ends on top', async () => {
    const flat = await halves(200, 100, '#ff0000', '#0000ff').jpeg({ quality: 95 }).toBuffer();
    const input = await sharp(flat).withMetadata({ orientation: 6 }).jpeg().toBuffer();

    const result = await transform(input);

    const { info, at } = await pixels(result.data);
    expect([info.width, info.height]).toEqual([100, 200]);
    expectPixelNear(at(50, 40), [255, 0, 0], 40);
    expectPixelNear(at(50, 160), [0, 0, 255], 40);
    expect((await sharp(result.data).metadata()).orientation).toBeUndefined();
  });
});

describe('colour and depth, on pixels', () => {
  it('turns the CMYK fixture into sRGB pixels close to a reference conversion', async () => {
    const input = await fixture('cmyk.jpg');
    const reference = await pixels(await sharp(input).toColourspace('srgb').png().toBuffer());

    const { info, at } = await pixels((await transform(input)).data);

    expect(info.channels).toBe(3);
    for (const [x, y] of [
      [50, 50],
      [250, 166],
      [450, 300],
    ] as const) {
      expectPixelNear(at(x, y), reference.at(x, y), 20);
    }
  });

  it('writes a 16-bit PNG as 8-bit pixels of the same colour', async () => {
    const input = await sharp({
      create: { width: 16, height: 16, channels: 3, background: { r: 200, g: 100, b: 50 } },
    })
      .toColourspace('rgb16')
      .png()
      .toBuffer();

    const result = await transform(input);

    const { raw, info, at } = await pixels(result.data);
    expect((await sharp(result.data).metadata()).depth).toBe('uchar');
    expect(raw.length).toBe(info.width * info.height * 3);
    expectPixelNear(at(8, 8), [200, 100, 50], 2);
  });

  it('keeps the greyscale fixture one channel deep, with the same grey levels', async () => {
    const input = await fixture('grayscale.jpg');
    const before = await pixels(input);

    const result = await transform(input);

    // The file holds one channel; sharp's raw reader expands it to three equal ones.
    const { raw, at } = await pixels(result.data);
    expect((await sharp(result.data).metadata()).channels).toBe(1);
    const coloured = [...Array(raw.length / 3).keys()].filter(
      (i) => raw[i * 3] !== raw[i * 3 + 1] || raw[i * 3] !== raw[i * 3 + 2],
    );
    expect(coloured).toHaveLength(0);
    for (const [x, y] of [
      [100, 100],
      [300, 200],
    ] as const) {
      expectPixelNear(at(x, y), before.at(x, y), 12);
    }
  });
});

describe('transparency, on pixels', () => {
  it('keeps transparent pixels transparent and opaque ones opaque in a PNG', async () => {
    const input = await sharp({
      create: { width: 20, height: 10, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .composite([
        { input: { create: { width: 10, height: 10, channels: 4, background: '#00ff00ff' } } },
      ])
      .png()
      .toBuffer();

    const { info, at } = await pixels((await transform(input)).data);

    expect(info.channels).toBe(4);
    expect(at(5, 5)).toEqual([0, 255, 0, 255]);
    expect(at(15, 5)[3]).toBe(0);
  });

  it('flattens the transparent fixture onto white, not black, when written as JPEG', async () => {
    const input = await fixture('alpha.png');
    const before = await pixels(input);
    const clear = [...Array(200).keys()]
      .map((i) => [(i * 97) % 2048, (i * 61) % 1536] as const)
      .filter(([x, y]) => before.at(x, y)[3] === 0);

    const { info, at } = await pixels((await transform(input, { format: 'JPEG' })).data);

    expect(info.channels).toBe(3);
    expect(clear.length).toBeGreaterThan(100);
    for (const [x, y] of clear) expect(Math.min(...at(x, y))).toBeGreaterThan(245);
  });
});

describe('palette PNGs', () => {
  it('keeps a palette PNG a palette PNG no larger than it was', async () => {
    const input = await sharp(await fixture('progressive.jpg'))
      .png({ palette: true, colours: 64 })
      .toBuffer();

    const result = await transform(input);

    expect(await sharp(result.data).metadata()).toMatchObject({ format: 'png', isPalette: true });
    expect(result.data.length).toBeLessThanOrEqual(input.length);
  });
});

describe('animations, frame by frame', () => {
  async function framesDiffer(data: Buffer, a: number, b: number): Promise<boolean> {
    const [left, right] = await Promise.all([pixels(data, a), pixels(data, b)]);
    return !left.raw.equals(right.raw);
  }

  it('keeps every frame of the animated GIF with its own picture and delay', async () => {
    const input = await fixture('animated.gif');
    const before = await sharp(input).metadata();

    const result = await transform(input);

    const after = await sharp(result.data).metadata();
    expect(after).toMatchObject({ pages: 30, delay: before.delay, loop: 0 });
    expect(await framesDiffer(result.data, 0, 7)).toBe(true);
    const [source, written] = await Promise.all([pixels(input, 7), pixels(result.data, 7)]);
    expectPixelNear(written.at(40, 40), source.at(40, 40), 12);
  });

  it('keeps every frame and the timing of an animated WebP', async () => {
    const gif = await fixture('animated.gif');
    const delay = Array.from({ length: 30 }, (_, i) => 40 + (i % 3) * 20);
    const input = await sharp(gif, { animated: true }).webp({ quality: 90, delay }).toBuffer();
    const before = await sharp(input).metadata();

    const result = await transform(input, { quality: 40 });

    const after = await sharp(result.data).metadata();
    expect(result.format).toBe('webp');
    expect(after.pages).toBe(before.pages);
    expect(after.delay).toEqual(before.delay);
    expect(await framesDiffer(result.data, 0, 7)).toBe(true);
  });
});

describe('keepMetadata false', () => {
  it('strips EXIF but keeps the colour profile, so the colours stay as they were', async () => {
    const input = await fixture('progressive.jpg');
    const before = await sharp(input).metadata();

    const after = await sharp((await transform(input)).data).metadata();

    expect(before.exif).toBeDefined();
    expect(after.exif).toBeUndefined();
    expect(after.icc?.equals(before.icc ?? Buffer.alloc(0))).toBe(true);
  });
});
