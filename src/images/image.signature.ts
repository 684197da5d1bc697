/**
 * What the first bytes of a file say it is, used only to explain why sharp refused it: a damaged
 * file of a format we decode, a real image format we do not decode, or something else entirely.
 */

/** The verdict of {@link sniffSignature}. */
export type Signature =
  { kind: 'decodable'; name: string } | { kind: 'unsupported'; name: string } | { kind: 'unknown' };

/** ISO-BMFF brands (the `ftyp` box) that mean AVIF, which libheif decodes with its AV1 codec. */
const AVIF_BRANDS = new Set(['avif', 'avis']);

/** ISO-BMFF brands of HEIF still images and sequences, HEVC-coded unless an AVIF brand is present. */
const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);

/** How far into a file the signature is looked for. */
const SNIFF_BYTES = 4096;

interface MagicNumber {
  bytes: readonly number[];
  offset?: number;
  signature: Signature;
}

const MAGIC_NUMBERS: readonly MagicNumber[] = [
  { bytes: [0xff, 0xd8, 0xff], signature: { kind: 'decodable', name: 'JPEG' } },
  { bytes: [0x89, 0x50, 0x4e, 0x47], signature: { kind: 'decodable', name: 'PNG' } },
  { bytes: [0x47, 0x49, 0x46, 0x38], signature: { kind: 'decodable', name: 'GIF' } },
  { bytes: [0x49, 0x49, 0x2a, 0x00], signature: { kind: 'decodable', name: 'TIFF' } },
  { bytes: [0x4d, 0x4d, 0x00, 0x2a], signature: { kind: 'decodable', name: 'TIFF' } },
  { bytes: [0x25, 0x50, 0x44, 0x46, 0x2d], signature: { kind: 'unsupported', name: 'PDF' } },
  { bytes: [0x25, 0x21, 0x50, 0x53], signature: { kind: 'unsupported', name: 'PostScript' } },
  { bytes: [0x38, 0x42, 0x50, 0x53], signature: { kind: 'unsupported', name: 'Photoshop (PSD)' } },
  { bytes: [0x00, 0x00, 0x01, 0x00], signature: { kind: 'unsupported', name: 'ICO' } },
  { bytes: [0xff, 0x0a], signature: { kind: 'unsupported', name: 'JPEG XL' } },
  {
    bytes: [0x4a, 0x58, 0x4c, 0x20],
    offset: 4,
    signature: { kind: 'unsupported', name: 'JPEG XL' },
  },
  {
    bytes: [0x6a, 0x50, 0x20, 0x20],
    offset: 4,
    signature: { kind: 'unsupported', name: 'JPEG 2000' },
  },
  { bytes: [0xff, 0x4f, 0xff, 0x51], signature: { kind: 'unsupported', name: 'JPEG 2000' } },
];

function startsWith(input: Buffer, bytes: readonly number[], offset = 0): boolean {
  if (input.length < offset + bytes.length) {
    return false;
  }
  return bytes.every((byte, index) => input[offset + index] === byte);
}

/** Reads the `ftyp` brands of an ISO-BMFF file (HEIF, AVIF, MP4), or none for other files. */
function isoBrands(input: Buffer): string[] {
  if (input.length < 16 || input.toString('latin1', 4, 8) !== 'ftyp') {
    return [];
  }

  const boxEnd = Math.min(input.readUInt32BE(0), input.length, SNIFF_BYTES);
  const brands = [input.toString('latin1', 8, 12)];
  for (let offset = 16; offset + 4 <= boxEnd; offset += 4) {
    brands.push(input.toString('latin1', offset, offset + 4));
  }
  return brands;
}

function isWebp(input: Buffer): boolean {
  return input.toString('latin1', 0, 4) === 'RIFF' && input.toString('latin1', 8, 12) === 'WEBP';
}

function isBitmap(input: Buffer): boolean {
  // "BM" alone is too weak: the four reserved bytes after the file size must also be zero.
  return input.length >= 26 && startsWith(input, [0x42, 0x4d]) && input.readUInt32LE(6) === 0;
}

function isSvg(input: Buffer): boolean {
  return input.toString('utf8', 0, Math.min(input.length, SNIFF_BYTES)).includes('<svg');
}

/**
 * Names the format a buffer claims to be from its magic number. Cheap and never throws; it reads at
 * most the first 4 KB.
 */
export function sniffSignature(input: Buffer): Signature {
  const brands = isoBrands(input);
  if (brands.some((brand) => AVIF_BRANDS.has(brand))) {
    return { kind: 'decodable', name: 'AVIF' };
  }
  if (brands.some((brand) => HEIF_BRANDS.has(brand))) {
    return { kind: 'unsupported', name: 'HEIC' };
  }

  const magic = MAGIC_NUMBERS.find((entry) => startsWith(input, entry.bytes, entry.offset));
  if (magic !== undefined) {
    return magic.signature;
  }

  if (isWebp(input)) {
    return { kind: 'decodable', name: 'WebP' };
  }
  if (isBitmap(input)) {
    return { kind: 'unsupported', name: 'BMP' };
  }
  if (isSvg(input)) {
    return { kind: 'decodable', name: 'SVG' };
  }
  return { kind: 'unknown' };
}
