import type { Metadata, Sharp } from 'sharp';

/** The format a caller asks for; `ORIGINAL` re-encodes in the input's own format. */
export type OutputFormat = 'ORIGINAL' | 'JPEG' | 'WEBP' | 'AVIF' | 'PNG';

/** A format this module writes. */
export type EncodedFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif' | 'tiff';

/** How to label a stored file: `extension` has no leading dot. */
export interface MediaDescription {
  contentType: string;
  extension: string;
}

const MEDIA: Readonly<Record<EncodedFormat, MediaDescription>> = {
  jpeg: { contentType: 'image/jpeg', extension: 'jpg' },
  png: { contentType: 'image/png', extension: 'png' },
  webp: { contentType: 'image/webp', extension: 'webp' },
  avif: { contentType: 'image/avif', extension: 'avif' },
  gif: { contentType: 'image/gif', extension: 'gif' },
  tiff: { contentType: 'image/tiff', extension: 'tiff' },
};

/** Encoder settings that depend on the input rather than on the format alone. */
export interface EncoderSettings {
  /** 1-100, as given by the caller. */
  quality: number;
  /** The input was palette-based, so a PNG is quantised back to a palette instead of growing. */
  palette: boolean;
  /** The pipeline still carries an alpha channel when it reaches the encoder. */
  alpha: boolean;
}

/** AVIF effort 0-9: 2 costs about an eighth of the default 4 for a similar size. */
const AVIF_EFFORT = 2;

/** The input's own format when we can write it back, or undefined (SVG, other loaders). */
export function encodedFormatOf(metadata: Metadata): EncodedFormat | undefined {
  switch (metadata.format) {
    case 'jpeg':
    case 'png':
    case 'webp':
    case 'gif':
    case 'tiff':
      return metadata.format;
    case 'heif':
      return metadata.compression === 'av1' ? 'avif' : undefined;
    default:
      return undefined;
  }
}

/**
 * The format to write: the requested one, or for `ORIGINAL` the input's own, where SVG becomes
 * PNG (we rasterise, never store vectors) and any other decodable input becomes JPEG.
 */
export function resolveOutputFormat(requested: OutputFormat, metadata: Metadata): EncodedFormat {
  switch (requested) {
    case 'ORIGINAL':
      return encodedFormatOf(metadata) ?? (metadata.format === 'svg' ? 'png' : 'jpeg');
    case 'JPEG':
      return 'jpeg';
    case 'WEBP':
      return 'webp';
    case 'AVIF':
      return 'avif';
    case 'PNG':
      return 'png';
    default: {
      const unreachable: never = requested;
      throw new RangeError(`Unknown output format: ${String(unreachable)}`);
    }
  }
}

/** Content type and file extension for a written format. */
export function describeFormat(format: EncodedFormat): MediaDescription {
  return MEDIA[format];
}

/** Whether the format stores several frames; the others get the first frame only. */
export function canAnimate(format: EncodedFormat): boolean {
  return format === 'gif' || format === 'webp';
}

/** Whether the format stores transparency; JPEG does not, so it is flattened first. */
export function holdsAlpha(format: EncodedFormat): boolean {
  return format !== 'jpeg';
}

/** Whether a greyscale input stays single-channel in this format instead of becoming sRGB. */
export function keepsGreyscale(format: EncodedFormat): boolean {
  return format === 'jpeg' || format === 'png' || format === 'webp' || format === 'tiff';
}

/** Sets the encoder of `pipeline` for `format`, tuned for speed at the caller's quality. */
export function applyEncoder(
  pipeline: Sharp,
  format: EncodedFormat,
  settings: EncoderSettings,
): Sharp {
  const { quality } = settings;
  switch (format) {
    case 'jpeg':
      // mozjpeg's trellis and scan optimisation cost several times the CPU for a few percent.
      return pipeline.jpeg({ quality, mozjpeg: false, progressive: false });
    case 'png':
      return settings.palette
        ? pipeline.png({ palette: true, quality, compressionLevel: 9 })
        : pipeline.png({ compressionLevel: 9 });
    case 'webp':
      return pipeline.webp({ quality });
    case 'avif':
      return pipeline.avif({ quality, effort: AVIF_EFFORT });
    case 'gif':
      // Without this libvips merges identical frames, changing the frame count and delays.
      return pipeline.gif({ keepDuplicateFrames: true });
    case 'tiff':
      // JPEG-in-TIFF has no alpha channel, so transparent images use lossless deflate.
      return settings.alpha
        ? pipeline.tiff({ compression: 'deflate', predictor: 'horizontal' })
        : pipeline.tiff({ compression: 'jpeg', quality });
    default: {
      const unreachable: never = format;
      throw new RangeError(`Unknown encoded format: ${String(unreachable)}`);
    }
  }
}
