import sharp from 'sharp';
import type { Metadata, OutputInfo, Sharp } from 'sharp';

import {
  ImageTransformError,
  isPixelLimitError,
  toTransformError,
  tooManyPixelsError,
  unsupportedFormatError,
} from './image.errors.ts';
import {
  applyEncoder,
  canAnimate,
  describeFormat,
  encodedFormatOf,
  holdsAlpha,
  keepsGreyscale,
  resolveOutputFormat,
} from './image.formats.ts';
import type { EncodedFormat } from './image.formats.ts';
import { assertValidOptions } from './image.options.ts';
import type { TransformOptions, TransformResult } from './image.options.ts';

export { ImageTransformError } from './image.errors.ts';
export type { TransformErrorCode } from './image.errors.ts';
export type { OutputFormat } from './image.formats.ts';
export type { TransformOptions, TransformResult } from './image.options.ts';
export { configureSharp } from './sharp.runtime.ts';

/** Facts about the input that shape the pipeline, worked out once from its header. */
interface Plan {
  metadata: Metadata;
  target: EncodedFormat;
  /** Every frame is decoded and written (GIF or WebP animation into GIF or WebP). */
  animated: boolean;
  frames: number;
}

const RGB_OR_GREY_SPACES: ReadonlySet<string> = new Set(['srgb', 'rgb16', 'b-w', 'grey16']);

function pageCount(metadata: Metadata): number {
  return metadata.pages ?? 1;
}

async function readMetadata(input: Buffer, maxPixels: number): Promise<Metadata> {
  try {
    return await sharp(input, { limitInputPixels: maxPixels, failOn: 'error' }).metadata();
  } catch (error: unknown) {
    if (!isPixelLimitError(error)) {
      throw toTransformError(error, input);
    }

    // sharp will not even describe an image over the limit; its header alone is safe to read.
    const { width, height } = await sharp(input, { limitInputPixels: false }).metadata();
    throw tooManyPixelsError(width, height, 1, maxPixels, error);
  }
}

function planTransform(metadata: Metadata, options: TransformOptions): Plan {
  if (metadata.format === 'heif' && metadata.compression !== 'av1') {
    throw unsupportedFormatError('HEIC');
  }

  const target = resolveOutputFormat(options.format, metadata);
  const isAnimation =
    (metadata.format === 'gif' || metadata.format === 'webp') && pageCount(metadata) > 1;
  const animated = isAnimation && canAnimate(target);
  const frames = animated ? pageCount(metadata) : 1;

  if (metadata.width * metadata.height * frames > options.maxPixels) {
    throw tooManyPixelsError(metadata.width, metadata.height, frames, options.maxPixels);
  }
  return { metadata, target, animated, frames };
}

/**
 * Keeps the input's colour profile, whatever `keepMetadata` says: dropping it would shift the
 * colours of a wide-gamut photo. A CMYK or Lab profile cannot describe the sRGB pixels written,
 * so those get an sRGB one.
 */
function keepColourProfile(pipeline: Sharp, metadata: Metadata): void {
  if (!metadata.hasProfile) return;
  if (RGB_OR_GREY_SPACES.has(metadata.space)) {
    pipeline.keepIccProfile();
  } else {
    pipeline.withIccProfile('srgb');
  }
}

const DEFAULT_TIMEOUT_SECONDS = 30;

function buildPipeline(input: Buffer, plan: Plan, options: TransformOptions): Sharp {
  const { metadata, target, animated } = plan;
  const pipeline = sharp(input, { limitInputPixels: options.maxPixels, failOn: 'error', animated });
  // A small file can still be costly to render (an SVG with a large blur): bound the time.
  pipeline.timeout({ seconds: options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS });

  // Orientation is applied before the resize, so the bounds apply to the upright image.
  pipeline.autoOrient();
  if (options.maxWidth != null || options.maxHeight != null) {
    pipeline.resize({
      width: options.maxWidth ?? undefined,
      height: options.maxHeight ?? undefined,
      fit: 'inside',
      withoutEnlargement: true,
    });
  }

  const alpha = metadata.hasAlpha && holdsAlpha(target);
  if (metadata.hasAlpha && !alpha) {
    pipeline.flatten({ background: '#ffffff' });
  }

  const greyscale =
    (metadata.space === 'b-w' || metadata.space === 'grey16') && keepsGreyscale(target);
  pipeline.toColourspace(greyscale ? 'b-w' : 'srgb');
  keepColourProfile(pipeline, metadata);
  if (options.keepMetadata) {
    pipeline.keepExif();
  }

  return applyEncoder(pipeline, target, {
    quality: options.quality,
    palette: metadata.isPalette,
    alpha,
  });
}

async function encode(
  pipeline: Sharp,
  input: Buffer,
  plan: Plan,
  maxPixels: number,
): Promise<{ data: Buffer; info: OutputInfo }> {
  try {
    return await pipeline.toBuffer({ resolveWithObject: true });
  } catch (error: unknown) {
    const { width, height } = plan.metadata;
    if (error instanceof Error && error.message.startsWith('timeout')) {
      throw new ImageTransformError(
        'TOO_SLOW',
        'The image took too long to process; it may be far more complex than a product photo',
        { cause: error },
      );
    }
    throw isPixelLimitError(error)
      ? tooManyPixelsError(width, height, plan.frames, maxPixels, error)
      : toTransformError(error, input);
  }
}

async function encodedResult(data: Buffer, info: OutputInfo, plan: Plan): Promise<TransformResult> {
  // libwebp merges identical consecutive frames (adding up their delays), so the frames kept
  // are counted in the written file rather than taken from the pipeline.
  const pages = plan.animated ? ((await sharp(data).metadata()).pages ?? 1) : 1;

  return {
    data,
    format: plan.target,
    ...describeFormat(plan.target),
    width: info.width,
    height: plan.animated ? (info.pageHeight ?? info.height) : info.height,
    pages,
    keptOriginal: false,
  };
}

function hasStrippableMetadata(metadata: Metadata): boolean {
  return (
    metadata.exif !== undefined ||
    metadata.xmp !== undefined ||
    metadata.iptc !== undefined ||
    (metadata.comments?.length ?? 0) > 0
  );
}

/**
 * Whether the input bytes are an acceptable answer: same format, and nothing the re-encode was
 * required to change (orientation, colour space or depth, metadata to strip, size, frames).
 */
function inputWouldDo(plan: Plan, result: TransformResult, options: TransformOptions): boolean {
  const { metadata } = plan;
  const oriented = (metadata.orientation ?? 1) > 1;
  const recoloured =
    !(metadata.space === 'srgb' || metadata.space === 'b-w') || metadata.depth !== 'uchar';
  const stripped = !options.keepMetadata && hasStrippableMetadata(metadata);
  const reshaped = result.width !== metadata.width || result.height !== metadata.height;
  const framesDropped = pageCount(metadata) > 1 && result.pages === 1;

  return (
    encodedFormatOf(metadata) === plan.target &&
    !(oriented || recoloured || stripped || reshaped || framesDropped)
  );
}

function originalResult(input: Buffer, plan: Plan): TransformResult {
  return {
    data: input,
    format: plan.target,
    ...describeFormat(plan.target),
    width: plan.metadata.width,
    height: plan.metadata.height,
    pages: pageCount(plan.metadata),
    keptOriginal: true,
  };
}

/**
 * Decodes `input`, applies its EXIF orientation, fits it inside `maxWidth` × `maxHeight`, converts
 * it to 8-bit sRGB (single-channel greyscale stays greyscale in JPEG, PNG, WebP and TIFF),
 * flattens transparency onto white for JPEG, and encodes it at `quality`. GIF and WebP animations
 * keep every frame, delay and loop count when written as GIF or WebP; other formats get the
 * first frame.
 *
 * Size rule (never larger): when the format is unchanged (`ORIGINAL`, or the input's own format)
 * and the re-encoded file is not smaller than the input, the input bytes are returned unchanged
 * with `keptOriginal: true`. The re-encode is kept even when larger if it had to change the
 * image: orientation applied, colour space or bit depth converted, metadata stripped (with
 * `keepMetadata: false`), resized, or frames dropped.
 *
 * @throws RangeError for options out of range (a caller bug).
 * @throws {@link ImageTransformError} for inputs that can never succeed: `NOT_AN_IMAGE`,
 * `UNSUPPORTED_FORMAT`, `TOO_MANY_PIXELS` or `CORRUPT_IMAGE`. Any other error (an encoder
 * fault, memory exhaustion) is rethrown as sharp raised it.
 */
export async function transformImage(
  input: Buffer,
  options: TransformOptions,
): Promise<TransformResult> {
  assertValidOptions(options);

  const metadata = await readMetadata(input, options.maxPixels);
  const plan = planTransform(metadata, options);

  const pipeline = buildPipeline(input, plan, options);
  const { data, info } = await encode(pipeline, input, plan, options.maxPixels);
  const result = await encodedResult(data, info, plan);

  if (data.length >= input.length && inputWouldDo(plan, result, options)) {
    return originalResult(input, plan);
  }
  return result;
}
