import { hasBrokenContainer } from './image.container.ts';
import { sniffSignature } from './image.signature.ts';

/**
 * Why an input can never be transformed, whatever the retry:
 * - `NOT_AN_IMAGE`: the bytes are not an image at all (text, HTML, an empty body);
 * - `UNSUPPORTED_FORMAT`: a real image format this service cannot decode (HEIC, PDF, BMP…);
 * - `TOO_MANY_PIXELS`: width × height × frames is over the configured limit;
 * - `CORRUPT_IMAGE`: a supported format whose data is damaged or cut short.
 */
export type TransformErrorCode =
  'NOT_AN_IMAGE' | 'UNSUPPORTED_FORMAT' | 'TOO_MANY_PIXELS' | 'CORRUPT_IMAGE' | 'TOO_SLOW';

/**
 * A permanent failure of one input image. `code` is stable for programs; `message` is plain
 * words a catalogue manager can act on, with no library internals (those stay in `cause`).
 */
export class ImageTransformError extends Error {
  override readonly name = 'ImageTransformError';

  /** The reason, stable across releases. */
  readonly code: TransformErrorCode;

  constructor(code: TransformErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

const NOT_AN_IMAGE = 'The file is not an image';
const WEB_PAGE = 'The URL returned a web page, not an image; use the direct link to the image file';
const EMPTY_FILE = 'The URL returned an empty file, not an image';

/** The NOT_AN_IMAGE error, saying a web page or an empty file when that is what came back. */
function notAnImageError(input: Buffer, cause: unknown): ImageTransformError {
  const start = input.toString('utf8', 0, Math.min(input.length, 512)).trimStart().toLowerCase();
  const message =
    input.length === 0
      ? EMPTY_FILE
      : /^(<!doctype html|<html|<head|<body)/.test(start)
        ? WEB_PAGE
        : NOT_AN_IMAGE;
  return new ImageTransformError('NOT_AN_IMAGE', message, { cause });
}
const CORRUPT_IMAGE = 'The image is damaged or incomplete and could not be decoded';

/** Phrases libvips and its loaders use when the pixel data itself cannot be read. */
const DECODE_FAILURE =
  /premature end|read error|corrupt|invalid|truncated|unexpected end|bad seek|unable to|load(_buffer)?:|vipsjpeg|vipspng|tiff2vips|heif:|webp:|gif:/i;

const MEGAPIXELS = new Intl.NumberFormat('en', { maximumSignificantDigits: 3 });

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Tells whether sharp refused an input for its `limitInputPixels` option. */
export function isPixelLimitError(error: unknown): boolean {
  return messageOf(error).includes('exceeds pixel limit');
}

/** The error for a format that decodes on other systems but not with this build of libvips. */
export function unsupportedFormatError(name?: string, cause?: unknown): ImageTransformError {
  const what = name === undefined ? 'This image format is' : `${name} images are`;
  return new ImageTransformError(
    'UNSUPPORTED_FORMAT',
    `${what} not supported; save the image as JPEG, PNG, WebP or AVIF and try again`,
    { cause },
  );
}

/**
 * The error for an input over the pixel budget, naming its size and the limit.
 *
 * @param frames - frames that would be decoded; 1 for stills.
 * @param maxPixels - the limit, in pixels (shown in megapixels).
 */
export function tooManyPixelsError(
  width: number,
  height: number,
  frames: number,
  maxPixels: number,
  cause?: unknown,
): ImageTransformError {
  const limit = `${MEGAPIXELS.format(maxPixels / 1_000_000)} megapixel limit`;
  const size =
    frames > 1
      ? `The animation is ${width}×${height} pixels with ${frames} frames`
      : `The image is ${width}×${height} pixels`;
  return new ImageTransformError('TOO_MANY_PIXELS', `${size}, over the ${limit}`, { cause });
}

/**
 * Explains a file sharp would not open. `recognised` is true when libvips found a loader for it
 * (a "corrupt header"), so an unknown signature still means a damaged image rather than no image.
 */
function unreadableInputError(
  input: Buffer,
  recognised: boolean,
  cause: unknown,
): ImageTransformError {
  const signature = sniffSignature(input);
  switch (signature.kind) {
    case 'decodable':
      return new ImageTransformError('CORRUPT_IMAGE', CORRUPT_IMAGE, { cause });
    case 'unsupported':
      return unsupportedFormatError(signature.name, cause);
    case 'unknown':
      return recognised
        ? new ImageTransformError('CORRUPT_IMAGE', CORRUPT_IMAGE, { cause })
        : notAnImageError(input, cause);
    default: {
      const unreachable: never = signature;
      return unreachable;
    }
  }
}

/**
 * Turns an error thrown by sharp for `input` into an {@link ImageTransformError} when the input
 * is at fault, and returns any other error (an encoder fault, memory exhaustion) unchanged so the
 * caller can treat it as unexpected. Pixel-limit errors are left to the caller, which alone knows
 * the limit; they come back unchanged. A JPEG, PNG, WebP or AVIF file whose container is broken
 * (cut short, or a PNG failing its checksum) is `CORRUPT_IMAGE` whatever the message says: with
 * several images at once, libvips' message can be lost ("Unknown error") or another image's.
 */
export function toTransformError(error: unknown, input: Buffer): unknown {
  const message = messageOf(error);

  if (error instanceof ImageTransformError || isPixelLimitError(error)) {
    return error;
  }
  if (input.length === 0) {
    return notAnImageError(input, error);
  }

  if (/unsupported image format|corrupt header/i.test(message)) {
    return unreadableInputError(input, /corrupt header/i.test(message), error);
  }
  if (/not been built in|unsupported codec/i.test(message)) {
    const signature = sniffSignature(input);
    return unsupportedFormatError(signature.kind === 'unknown' ? undefined : signature.name, error);
  }

  // Checked before the message, which libvips keeps in one buffer for every thread at once.
  if (hasBrokenContainer(input)) {
    return new ImageTransformError('CORRUPT_IMAGE', CORRUPT_IMAGE, { cause: error });
  }
  // An encoder ("jpegsave", "heifsave"…) failing is our fault, not the input's.
  if (/save/i.test(message) || !DECODE_FAILURE.test(message)) {
    return error;
  }
  return new ImageTransformError('CORRUPT_IMAGE', CORRUPT_IMAGE, { cause: error });
}
