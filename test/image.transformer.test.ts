import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';

import sharp from 'sharp';
import type { Colour, Sharp } from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import {
  configureSharp,
  ImageTransformError,
  transformImage,
} from '../src/images/image.transformer.ts';
import type { TransformOptions } from '../src/images/image.transformer.ts';

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

async function meanColour(data: Buffer): Promise<number[]> {
  const { channels } = await sharp(data).stats();
  return channels.map((channel) => channel.mean);
}

/** Asserts that two lists of channel means differ by at most `tolerance` levels each. */
function expectColoursNear(actual: number[], expected: number[], tolerance: number): void {
  const offBy = actual.map((mean, index) => Math.abs(mean - (expected[index] ?? Infinity)));
  const summary = `means ${actual.map(Math.round).join()} against ${expected.map(Math.round).join()}`;
  expect(actual).toHaveLength(expected.length);
  expect(Math.max(...offBy), summary).toBeLessThanOrEqual(tolerance);
}

/** Mean absolute difference of two images' 16×16 RGB thumbnails, 0-255. */
async function distance(a: Buffer, b: Buffer): Promise<number> {
  const thumbnail = (data: Buffer) =>
    sharp(data)
      .resize(16, 16, { fit: 'fill' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
  const [left, right] = await Promise.all([thumbnail(a), thumbnail(b)]);
  return (
    left.reduce((sum, value, index) => sum + Math.abs(value - (right[index] ?? 0)), 0) / left.length
  );
}

function solid(width: number, height: number, background: Colour): Sharp {
  const channels = typeof background === 'object' && 'alpha' in background ? 4 : 3;
  return sharp({ create: { width, height, channels, background } });
}

/** A 256×256 JPEG of random noise, which JPEG compresses badly. */
function noise(quality: number): Promise<Buffer> {
  const size = { width: 256, height: 256, channels: 3 as const, background: '#808080' };
  return sharp({ create: { ...size, noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .jpeg({ quality })
    .toBuffer();
}

/** A HEIC container holding one HEVC-coded item, which this build of libvips cannot decode. */
function heicFile(): Buffer {
  const box = (type: string, ...parts: Buffer[]) => {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(8 + Buffer.concat(parts).length);
    header.write(type, 4, 'latin1');
    return Buffer.concat([header, ...parts]);
  };
  const fullBox = (type: string, ...parts: Buffer[]) => box(type, Buffer.alloc(4), ...parts);
  const u16 = (...values: number[]) => Buffer.from(values.flatMap((v) => [v >> 8, v & 0xff]));
  const u32 = (...values: number[]) => u16(...values.flatMap((v) => [Math.floor(v / 65536), v]));

  const payload = Buffer.alloc(64, 1);
  const hvcC = [1, 1, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x5a, 0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0];
  const item = box('infe', Buffer.from([2, 0, 0, 0]), u16(1, 0), Buffer.from('hvc1\0'));
  const properties = box(
    'iprp',
    box('ipco', box('hvcC', Buffer.from([...hvcC, 0x0f, 0])), fullBox('ispe', u32(64, 64))),
    fullBox('ipma', u32(1), u16(1), Buffer.from([2, 0x81, 0x02])),
  );
  const meta = (offset: number) =>
    fullBox(
      'meta',
      fullBox('hdlr', u32(0), Buffer.from('pict'), Buffer.alloc(13)),
      fullBox('pitm', u16(1)),
      fullBox('iloc', u16(0x4400, 1, 1, 0, 1), u32(offset, payload.length)),
      fullBox('iinf', u16(1), item),
      properties,
    );
  const ftyp = box('ftyp', Buffer.from('heic'), u32(0), Buffer.from('mif1heic'));
  const offset = ftyp.length + meta(0).length + 8;
  return Buffer.concat([ftyp, meta(offset), box('mdat', payload)]);
}

describe('transformImage on the fixture images', () => {
  it.each([
    ['photo-landscape-0.3mp.jpg', 640, 480],
    ['photo-saw-6mp.jpg', 2725, 2225],
    ['photo-flowers-8mp.jpg', 3264, 2448],
  ])('re-encodes %s as a smaller JPEG of the same size', async (name, width, height) => {
    const input = await fixture(name);

    const result = await transform(input);

    expect(await sharp(result.data).metadata()).toMatchObject({ format: 'jpeg', width, height });
    expect(result.data.length).toBeLessThan(input.length);
    expect(await distance(result.data, input)).toBeLessThan(6);
  });

  it('writes a progressive JPEG back as a baseline JPEG of the same size', async () => {
    const result = await transform(await fixture('progressive.jpg'));

    const metadata = await sharp(result.data).metadata();
    expect(metadata).toMatchObject({
      format: 'jpeg',
      width: 308,
      height: 410,
      isProgressive: false,
    });
  });

  it('converts a CMYK JPEG to 3-channel sRGB with the colours of a reference conversion', async () => {
    const input = await fixture('cmyk.jpg');
    const reference = await sharp(input).toColourspace('srgb').png().toBuffer();

    const result = await transform(input);

    expect(await sharp(result.data).metadata()).toMatchObject({ channels: 3, space: 'srgb' });
    const [actual, expected] = await Promise.all([meanColour(result.data), meanColour(reference)]);
    expectColoursNear(actual, expected, 5);
  });

  it('applies EXIF orientation 6 so the photo is stored upright at 600×450 with no tag', async () => {
    const input = await fixture('exif-orientation-6.jpg');

    const result = await transform(input);

    const metadata = await sharp(result.data).metadata();
    expect(metadata).toMatchObject({ width: 600, height: 450 });
    expect(metadata.orientation ?? 1).toBe(1);
    expect(await distance(result.data, await sharp(input).autoOrient().toBuffer())).toBeLessThan(6);
  });

  it('keeps the transparency of a PNG written as PNG', async () => {
    const input = await fixture('alpha.png');

    const result = await transform(input);

    expect(await sharp(result.data).metadata()).toMatchObject({ format: 'png', channels: 4 });
    const [alpha] = (await meanColour(result.data)).slice(3);
    expect(alpha).toBeCloseTo((await meanColour(input))[3] ?? 0, 0);
  });

  it('flattens a transparent PNG onto white when written as JPEG', async () => {
    const result = await transform(await fixture('alpha.png'), { format: 'JPEG' });

    expect(await sharp(result.data).metadata()).toMatchObject({ format: 'jpeg', channels: 3 });
    for (const mean of await meanColour(result.data)) expect(mean).toBeGreaterThan(250);
  });

  it('reduces a 16-bit PNG to 8 bits per channel with the same colours', async () => {
    const input = await fixture('photo-16bit.png');

    const result = await transform(input);

    expect(await sharp(result.data).metadata()).toMatchObject({ depth: 'uchar', bitsPerSample: 8 });
    const expected = (await meanColour(input)).map((mean) => mean / 257);
    expectColoursNear(await meanColour(result.data), expected, 1);
  });

  it('keeps a greyscale JPEG single-channel', async () => {
    const result = await transform(await fixture('grayscale.jpg'));

    expect(await sharp(result.data).metadata()).toMatchObject({ channels: 1, space: 'b-w' });
  });

  it('writes a lossy WebP back as a smaller WebP', async () => {
    const input = await fixture('photo-lossy.webp');

    const result = await transform(input);

    expect(await sharp(result.data).metadata()).toMatchObject({ format: 'webp', width: 1024 });
    expect(result.data.length).toBeLessThan(input.length);
  });

  it('keeps all 30 frames, their delays and the loop of an animated GIF', async () => {
    const input = await fixture('animated.gif');

    const result = await transform(input);

    const [before, after] = await Promise.all([
      sharp(input).metadata(),
      sharp(result.data).metadata(),
    ]);
    expect(after).toMatchObject({ format: 'gif', pages: 30, delay: before.delay, loop: 0 });
    expect(result).toMatchObject({ pages: 30, width: 80, height: 80 });
  });

  it.each([
    ['photo-uncompressed.tiff', 'tiff', 'tiff', 246, 345],
    ['photo.avif', 'avif', 'heif', 800, 533],
    ['logo.svg', 'png', 'png', 736, 552],
    ['1x1.png', 'png', 'png', 1, 1],
  ])('writes %s in its own format (%s)', async (name, format, decoder, width, height) => {
    const result = await transform(await fixture(name));

    expect(result.format).toBe(format);
    expect(await sharp(result.data).metadata()).toMatchObject({ format: decoder, width, height });
  });

  it('rejects a truncated JPEG as a damaged image', async () => {
    await expect(transform(await fixture('truncated.jpg'))).rejects.toMatchObject({
      code: 'CORRUPT_IMAGE',
      message: 'The image is damaged or incomplete and could not be decoded',
    });
  });

  it('rejects a text file named .jpg as not an image', async () => {
    const rejection = transform(await fixture('not-an-image.jpg'));

    await expect(rejection).rejects.toBeInstanceOf(ImageTransformError);
    await expect(rejection).rejects.toMatchObject({ code: 'NOT_AN_IMAGE' });
  });
});

describe('transparency, orientation and colour (C-04 to C-06)', () => {
  it('flattens a fully transparent red PNG onto white in a JPEG', async () => {
    const input = await solid(8, 8, { r: 255, g: 0, b: 0, alpha: 0 }).png().toBuffer();

    const result = await transform(input, { format: 'JPEG' });

    for (const mean of await meanColour(result.data)) expect(mean).toBeGreaterThan(250);
  });

  it('blends a half-transparent red with white, not with black', async () => {
    const input = await solid(8, 8, { r: 255, g: 0, b: 0, alpha: 0.5 }).png().toBuffer();

    const [red, green, blue] = await meanColour((await transform(input, { format: 'JPEG' })).data);

    expect(red).toBeGreaterThan(240);
    expect(green).toBeCloseTo(128, -1);
    expect(blue).toBeCloseTo(128, -1);
  });

  it('stores a 200×100 JPEG tagged orientation 6 as 100×200 without the tag', async () => {
    const input = await solid(200, 100, '#3366cc')
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();

    const metadata = await sharp((await transform(input)).data).metadata();

    expect(metadata).toMatchObject({ width: 100, height: 200 });
    expect(metadata.orientation ?? 1).toBe(1);
  });

  it('leaves an upright 100×200 JPEG tagged orientation 1 unrotated', async () => {
    const input = await solid(100, 200, '#3366cc')
      .jpeg()
      .withMetadata({ orientation: 1 })
      .toBuffer();

    const result = await transform(input);

    expect(await sharp(result.data).metadata()).toMatchObject({ width: 100, height: 200 });
  });

  it('converts a CMYK JPEG of solid red without a profile to sRGB red', async () => {
    const red = await solid(64, 64, '#ff0000').jpeg().toBuffer();
    const input = await sharp(red).toColourspace('cmyk').jpeg().toBuffer();

    const [r, g, b] = await meanColour((await transform(input)).data);

    expect(r).toBeGreaterThan(200);
    expect(Math.max(g ?? 255, b ?? 255)).toBeLessThan(40);
  });

  it('keeps the colour of a 16-bit PNG within 5 levels', async () => {
    const input = await solid(32, 32, { r: 200, g: 100, b: 50 })
      .toColourspace('rgb16')
      .png()
      .toBuffer();

    const result = await transform(input);

    expectColoursNear(await meanColour(result.data), [200, 100, 50], 5);
  });
});

describe('the never-larger rule (C-07)', () => {
  it('returns the input bytes when re-encoding a q20 noise JPEG does not make it smaller', async () => {
    const input = await noise(20);

    const result = await transform(input);

    expect(result.keptOriginal).toBe(true);
    expect(result.data.equals(input)).toBe(true);
  });

  it('keeps a larger re-encode when the orientation had to be applied', async () => {
    const input = await sharp(await noise(20))
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 20 })
      .toBuffer();

    const result = await transform(input, { keepMetadata: true });

    expect(result).toMatchObject({ keptOriginal: false, width: 256, height: 256 });
    expect(result.data.length).toBeGreaterThan(input.length);
  });

  it('never keeps the input when the format changes', async () => {
    const result = await transform(await noise(20), { format: 'WEBP' });

    expect(result).toMatchObject({ keptOriginal: false, format: 'webp' });
  });
});

describe('resizing and format conversion', () => {
  it('fits a photo inside maxWidth and maxHeight, keeping its aspect ratio', async () => {
    const result = await transform(await fixture('photo-landscape-0.3mp.jpg'), {
      maxWidth: 320,
      maxHeight: 320,
    });

    expect(await sharp(result.data).metadata()).toMatchObject({ width: 320, height: 240 });
  });

  it('never enlarges an image smaller than the bounds', async () => {
    const result = await transform(await fixture('progressive.jpg'), {
      maxWidth: 1000,
      maxHeight: 1000,
    });

    expect(result).toMatchObject({ width: 308, height: 410 });
  });

  it('applies the orientation before fitting, so bounds apply to the upright image', async () => {
    const result = await transform(await fixture('exif-orientation-6.jpg'), { maxWidth: 300 });

    expect(await sharp(result.data).metadata()).toMatchObject({ width: 300, height: 225 });
  });

  it.each([
    ['WEBP', 'webp', 'image/webp', 'webp'],
    ['AVIF', 'avif', 'image/avif', 'heif'],
    ['PNG', 'png', 'image/png', 'png'],
    ['JPEG', 'jpeg', 'image/jpeg', 'jpeg'],
  ] as const)('converts a JPEG photo to %s', async (format, encoded, contentType, decoder) => {
    const result = await transform(await fixture('progressive.jpg'), { format });

    expect(result).toMatchObject({ format: encoded, contentType });
    expect(await sharp(result.data).metadata()).toMatchObject({ format: decoder, width: 308 });
  });

  it('quantises a palette PNG back to a palette instead of growing it into truecolour', async () => {
    const input = await sharp(await noise(90))
      .png({ palette: true, colours: 16 })
      .toBuffer();

    const result = await transform(input, { maxWidth: 128 });

    expect(await sharp(result.data).metadata()).toMatchObject({ width: 128, isPalette: true });
    expect(result.data.length).toBeLessThan(input.length);
  });
});

describe('metadata', () => {
  it('strips EXIF and its GPS block when keepMetadata is false', async () => {
    const result = await transform(await fixture('photo-landscape-0.3mp.jpg'));

    expect((await sharp(result.data).metadata()).exif).toBeUndefined();
  });

  it('keeps the camera EXIF when keepMetadata is true', async () => {
    const result = await transform(await fixture('photo-landscape-0.3mp.jpg'), {
      keepMetadata: true,
    });

    const { exif } = await sharp(result.data).metadata();
    expect(exif?.includes('NIKON')).toBe(true);
  });

  it('resets the orientation tag of the EXIF it keeps', async () => {
    const input = await fixture('exif-orientation-6.jpg');

    const result = await transform(input, { keepMetadata: true });

    const metadata = await sharp(result.data).metadata();
    expect(metadata).toMatchObject({ width: 600, height: 450, orientation: 1 });
    expect(metadata.exif).toBeDefined();
  });

  it('converts a CMYK JPEG to sRGB with an sRGB profile when keepMetadata is true', async () => {
    const result = await transform(await fixture('cmyk.jpg'), { keepMetadata: true });

    const metadata = await sharp(result.data).metadata();
    expect(metadata).toMatchObject({ channels: 3, space: 'srgb', hasProfile: true });
    expect(metadata.icc?.toString('latin1', 12, 20)).toBe('mntrRGB ');
  });
});

describe('inputs that can never succeed', () => {
  it('rejects an image over maxPixels, naming its size and the limit', async () => {
    const rejection = transform(await fixture('photo-saw-6mp.jpg'), { maxPixels: 1_000_000 });

    await expect(rejection).rejects.toMatchObject({
      code: 'TOO_MANY_PIXELS',
      message: 'The image is 2725×2225 pixels, over the 1 megapixel limit',
    });
  });

  it('counts every frame of an animation against maxPixels', async () => {
    const rejection = transform(await fixture('animated.gif'), { maxPixels: 80 * 80 * 10 });

    await expect(rejection).rejects.toMatchObject({ code: 'TOO_MANY_PIXELS' });
  });

  it('reports a 70000×70000 image from its header without decoding it', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="70000" height="70000"/>';

    await expect(transform(Buffer.from(svg))).rejects.toMatchObject({
      code: 'TOO_MANY_PIXELS',
      message: 'The image is 70000×70000 pixels, over the 100 megapixel limit',
    });
  });

  it('reports a truncated TIFF as damaged rather than as not an image', async () => {
    const input = (await fixture('photo-uncompressed.tiff')).subarray(0, 100_000);

    await expect(transform(input)).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
  });

  it('rejects a HEIC image as a format it cannot decode', async () => {
    const input = heicFile();

    expect(await sharp(input).metadata()).toMatchObject({ format: 'heif', compression: 'hevc' });
    await expect(transform(input)).rejects.toMatchObject({
      code: 'UNSUPPORTED_FORMAT',
      message: expect.stringContaining('HEIC') as string,
    });
  });

  it('rejects a PDF as a format it cannot decode', async () => {
    const pdf = Buffer.from('%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n');

    await expect(transform(pdf)).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT' });
  });

  it('rejects an empty file and an HTML page as not images', async () => {
    const html = Buffer.from('<!doctype html><title>Not found</title>');

    await expect(transform(Buffer.alloc(0))).rejects.toMatchObject({ code: 'NOT_AN_IMAGE' });
    await expect(transform(html)).rejects.toMatchObject({ code: 'NOT_AN_IMAGE' });
  });

  it('throws a RangeError for a quality outside 1-100', async () => {
    const input = await fixture('1x1.png');

    await expect(transform(input, { quality: 0 })).rejects.toBeInstanceOf(RangeError);
  });
});

describe('configureSharp', () => {
  afterAll(() => {
    sharp.cache(true);
    sharp.concurrency(0);
  });

  it('turns the libvips cache off and shares the cores between concurrent images', () => {
    configureSharp(2);

    expect(sharp.cache().items.max).toBe(0);
    expect(sharp.concurrency()).toBe(Math.max(1, Math.floor(availableParallelism() / 2)));
  });

  it('gives each image the threads it is told (VIPS_CONCURRENCY) instead of a share of the cores', () => {
    configureSharp(1, 1);

    expect(sharp.concurrency()).toBe(1);
    expect(() => {
      configureSharp(1, 0);
    }).toThrow(RangeError);
  });
});
