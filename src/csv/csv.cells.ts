import type { CsvLimits } from './csv.types.ts';
import { hasControlCharacter } from '../domain/text.ts';

/** A cell's value, or the one message saying why it was rejected. */
export type CellCheck<T> = { ok: true; value: T } | { ok: false; problem: string };

/** The largest `S. No.` accepted: the largest GraphQL `Int`, the type of `Product.serialNumber`. */
export const MAX_SERIAL_NUMBER = 2_147_483_647;

const DIGITS = /^[0-9]+$/;
const QUOTED_PREVIEW_LENGTH = 80;

/** Reads `S. No.`: digits only after trimming, from 1 to {@link MAX_SERIAL_NUMBER}. */
export function checkSerialNumber(cell: string): CellCheck<number> {
  const text = cell.trim();

  if (text === '') return rejected('S. No. is empty; expected a positive whole number such as 1');
  if (!DIGITS.test(text)) {
    return rejected(`S. No. must be a positive whole number, got ${quote(text)}`);
  }

  const value = Number(text);
  if (value === 0) return rejected(`S. No. must be 1 or more, got ${quote(text)}`);
  if (value > MAX_SERIAL_NUMBER) {
    return rejected(`S. No. must be at most ${MAX_SERIAL_NUMBER}, got ${quote(text)}`);
  }

  return { ok: true, value };
}

/**
 * Reads `Product Name`: trimmed, every whitespace run (line breaks included) turned into one
 * space, non-empty, free of control characters and at most `maxLength` characters.
 */
export function checkProductName(cell: string, maxLength: number): CellCheck<string> {
  const name = cell.replace(/\s+/g, ' ').trim();

  if (name === '') return rejected('Product Name is empty; every product needs a name');
  // \s above already turned tabs and line breaks into spaces; what is left cannot be stored
  // (NUL) or shown (other control characters).
  if (hasControlCharacter(name)) return rejected('Product Name contains a control character');
  if (isLongerThan(name, maxLength)) {
    return rejected(
      `Product Name is ${characterCount(name)} characters long; the limit is ${maxLength}`,
    );
  }

  return { ok: true, value: name };
}

/** Splits an `Input Image Urls` cell on commas, trims each piece and drops empty pieces. */
export function splitUrlList(cell: string): string[] {
  const pieces = cell.split(',').map((piece) => piece.trim());

  // filter() leaves its result with spare capacity (about 120 bytes for two URLs) and every
  // product keeps this array, so filter only when there is an empty piece to drop.
  return pieces.includes('') ? pieces.filter((piece) => piece !== '') : pieces;
}

/**
 * Checks a row's URLs (as {@link splitUrlList} returns them): at least one, at most
 * `maxUrlsPerRow`, each an absolute `http:` or `https:` URL with a host and at most
 * `maxUrlLength` characters.
 *
 * @returns one message per problem found; empty when the URLs are fine.
 */
export function checkImageUrls(urls: readonly string[], limits: CsvLimits): string[] {
  if (urls.length === 0) {
    return [
      'Input Image Urls is empty; expected at least one http or https URL, separated by commas',
    ];
  }

  const problems: string[] = [];
  if (urls.length > limits.maxUrlsPerRow) {
    problems.push(
      `This product has ${urls.length} image URLs; the limit is ${limits.maxUrlsPerRow} per product`,
    );
  }

  for (const url of urls) {
    const problem = checkImageUrl(url, limits.maxUrlLength);
    if (problem !== null) problems.push(problem);
  }

  return problems;
}

/** Quotes a user's value for a message, shortened so one huge cell cannot flood the report. */
export function quote(value: string): string {
  if (value.length <= QUOTED_PREVIEW_LENGTH) return JSON.stringify(value);
  return JSON.stringify(`${value.slice(0, QUOTED_PREVIEW_LENGTH)}…`);
}

function checkImageUrl(url: string, maxLength: number): string | null {
  if (isLongerThan(url, maxLength)) {
    return `Image URL ${quote(url)} is ${characterCount(url)} characters long; the limit is ${maxLength}`;
  }

  // The URL parser silently strips tabs and line breaks, which would hide two URLs run together.
  if (hasControlCharacter(url)) {
    return `Image URL ${quote(url)} contains a line break or control character; separate URLs with commas`;
  }

  const parsed = parseUrl(url);
  if (parsed === null) {
    return `Image URL ${quote(url)} is not a valid URL; expected a full address such as https://example.com/photo.jpg`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return `Image URL ${quote(url)} must start with http:// or https://`;
  }
  if (parsed.hostname === '') return `Image URL ${quote(url)} has no host name`;

  return null;
}

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch (error: unknown) {
    if (error instanceof TypeError) return null;
    throw error;
  }
}

// A string never has more code points than UTF-16 units, so the cheap length settles most cases.
function isLongerThan(text: string, maxLength: number): boolean {
  return text.length > maxLength && characterCount(text) > maxLength;
}

function characterCount(text: string): number {
  return Array.from(text).length;
}

function rejected<T>(problem: string): CellCheck<T> {
  return { ok: false, problem };
}
