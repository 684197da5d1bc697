import type { EncodedFormat, OutputFormat } from './image.formats.ts';

/** What to make of one input image. */
export interface TransformOptions {
  /** Encoder quality, an integer from 1 (smallest file) to 100 (best); callers default to 50. */
  quality: number;
  /** Format to write; `ORIGINAL` re-encodes in the input's own format (see `transformImage`). */
  format: OutputFormat;
  /** Largest output width in pixels; the image fits inside and is never enlarged. Unset: none. */
  maxWidth?: number | null;
  /** Largest output height in pixels; the image fits inside and is never enlarged. Unset: none. */
  maxHeight?: number | null;
  /**
   * `false` strips EXIF (GPS included), XMP and IPTC; `true` keeps EXIF, with the orientation
   * tag reset. Either way the colour profile is kept (CMYK and other non-RGB inputs are
   * converted to sRGB and carry an sRGB profile instead).
   */
  keepMetadata: boolean;
  /** Largest input in pixels, counted as width × height × frames decoded; an integer above 0. */
  maxPixels: number;
  /**
   * Longest time libvips may spend on one image, in seconds; then it fails with TOO_SLOW.
   * @defaultValue 30
   */
  timeoutSeconds?: number;
}

/** One re-encoded image, ready to store. */
export interface TransformResult {
  /** The encoded file; the input buffer itself when `keptOriginal` is true. */
  data: Buffer;
  format: EncodedFormat;
  /** Media type of `data`, e.g. `image/jpeg`. */
  contentType: string;
  /** File extension without the dot, e.g. `jpg`. */
  extension: string;
  /** Width in pixels, after orientation and resize. */
  width: number;
  /** Height in pixels, after orientation and resize; one frame's height for an animation. */
  height: number;
  /** Frames written: 1 for stills, and for animations written to a still format. */
  pages: number;
  /** True when the input bytes are returned unchanged, by the size rule of `transformImage`. */
  keptOriginal: boolean;
}

/**
 * Throws a RangeError naming `name` unless `value` is an integer from `min` to `max` inclusive.
 */
export function assertIntegerIn(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/** Throws a RangeError for the first option out of range: a caller bug, not a bad image. */
export function assertValidOptions(options: TransformOptions): void {
  assertIntegerIn('quality', options.quality, 1, 100);
  assertIntegerIn('maxPixels', options.maxPixels, 1, Number.MAX_SAFE_INTEGER);

  if (options.maxWidth != null) {
    assertIntegerIn('maxWidth', options.maxWidth, 1, Number.MAX_SAFE_INTEGER);
  }
  if (options.maxHeight != null) {
    assertIntegerIn('maxHeight', options.maxHeight, 1, Number.MAX_SAFE_INTEGER);
  }
}
