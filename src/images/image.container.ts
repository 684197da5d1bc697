/**
 * Whether a file's container is visibly broken, read from its own bytes, to explain a failed
 * decode without trusting libvips' error text: that text lives in one buffer shared by every
 * thread and is cleared when any operation ends, so with several images at once a failure often
 * comes back as "Unknown error", or with another image's words.
 *
 * Only breaks that make libvips refuse the file are looked for, and only in formats whose
 * container says where it ends. Damage inside the coded pixels of a complete file (a corrupt
 * AV1 frame, a TIFF strip cut short behind its directory) is not seen here: when its error text
 * is lost, such a file is still reported as an unexpected failure. GIF is left out because
 * libvips decodes a GIF cut short, frames missing and all.
 */

import { crc32 } from 'node:zlib';

import { sniffSignature } from './image.signature.ts';

const JPEG_SOS = 0xda;
const JPEG_EOI = Buffer.from([0xff, 0xd9]);

/** Markers that stand alone, with no length after them: TEM and RST0 to RST7. */
function isStandaloneMarker(marker: number): boolean {
  return marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7);
}

/**
 * A JPEG is cut short when a segment before its first scan runs past the end, or when no
 * end-of-image marker follows that scan; libjpeg refuses both as a premature end. The segments
 * are walked so that the end marker of an EXIF thumbnail, inside APP1, is not taken for the
 * image's own. Coded data stuffs a zero after every 0xFF byte, so the marker is not found in it
 * by chance.
 */
function jpegIsCutShort(input: Buffer): boolean {
  let offset = 2;
  while (offset + 4 <= input.length && input[offset] === 0xff) {
    const marker = input[offset + 1] ?? 0;
    if (marker === 0xff) {
      offset += 1; // fill byte before a marker
    } else if (isStandaloneMarker(marker)) {
      offset += 2;
    } else if (marker === JPEG_SOS) {
      return input.indexOf(JPEG_EOI, offset) === -1;
    } else {
      offset += 2 + input.readUInt16BE(offset + 2);
    }
  }
  // A file that ends inside its headers is cut short; one that strays from the segment layout
  // before any scan is for libjpeg to judge (it skips stray bytes with a warning).
  return offset + 4 > input.length;
}

/** Chunks whose type starts with a capital letter: libpng refuses them when their CRC is wrong. */
function isCriticalChunk(type: number): boolean {
  return (type & 0x20) === 0;
}

/**
 * A PNG is broken when a chunk runs past the end, when it stops before its IEND chunk, or when
 * a critical chunk (the pixel data among them) fails its CRC, which is how PNG detects bytes
 * changed in transit.
 */
function pngIsBroken(input: Buffer): boolean {
  for (let offset = 8; offset + 12 <= input.length;) {
    const length = input.readUInt32BE(offset);
    const end = offset + 12 + length;
    if (end > input.length) {
      return true;
    }

    const type = input.subarray(offset + 4, offset + 8);
    const checked = input.subarray(offset + 4, end - 4);
    if (isCriticalChunk(type[0] ?? 0) && crc32(checked) !== input.readUInt32BE(end - 4)) {
      return true;
    }
    if (type.toString('latin1') === 'IEND') {
      return false;
    }
    offset = end;
  }
  return true;
}

/** A WebP file is cut short when its RIFF header counts more bytes than there are. */
function webpIsCutShort(input: Buffer): boolean {
  return input.length < 12 || 8 + input.readUInt32LE(4) > input.length;
}

/**
 * An ISO-BMFF file (AVIF) is cut short when a top-level box runs past the end: the media data
 * box, last in most files, then lacks the pixels the item locations point at.
 */
function boxesAreCutShort(input: Buffer): boolean {
  let offset = 0;
  while (offset + 8 <= input.length) {
    const size32 = input.readUInt32BE(offset);
    if (size32 === 0) {
      return false; // the last box, running to the end of the file
    }

    const size =
      size32 === 1 && offset + 16 <= input.length
        ? Number(input.readBigUInt64BE(offset + 8))
        : size32;
    if (size < 8 || offset + size > input.length) {
      return true;
    }
    offset += size;
  }
  return offset !== input.length;
}

const CONTAINER_CHECKS: Readonly<Record<string, (input: Buffer) => boolean>> = {
  JPEG: jpegIsCutShort,
  PNG: pngIsBroken,
  WebP: webpIsCutShort,
  AVIF: boxesAreCutShort,
};

/**
 * Tells whether `input`, a JPEG, PNG, WebP or AVIF file by its signature, is cut short or (PNG)
 * fails a checksum, so that libvips could not decode it whatever its error said. False for other
 * formats and for files whose container is whole. Reads only the file's headers and, for a
 * PNG, checksums every critical chunk; never throws.
 */
export function hasBrokenContainer(input: Buffer): boolean {
  const signature = sniffSignature(input);
  if (signature.kind !== 'decodable') {
    return false;
  }
  return CONTAINER_CHECKS[signature.name]?.(input) ?? false;
}
