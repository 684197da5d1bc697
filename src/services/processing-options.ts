import type { OutputFormat, ProcessingOptions } from '../domain/request.ts';
import { ServiceError } from '../errors.ts';
import { hasControlCharacter } from '../domain/text.ts';

/** What a client may send; every field optional. */
export interface ProcessingOptionsRequest {
  quality?: number | null;
  format?: OutputFormat | null;
  maxWidth?: number | null;
  maxHeight?: number | null;
  keepMetadata?: boolean | null;
}

const MAX_DIMENSION = 16_384;

function dimension(name: string, value: number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isInteger(value) || value < 1 || value > MAX_DIMENSION) {
    throw new ServiceError(
      'BAD_USER_INPUT',
      `${name} must be a whole number from 1 to ${MAX_DIMENSION}.`,
    );
  }
  return value;
}

/**
 * Fills in defaults and checks ranges.
 *
 * @throws ServiceError `BAD_USER_INPUT` naming the option that is out of range
 */
export function resolveProcessingOptions(
  input: ProcessingOptionsRequest | null | undefined,
  defaultQuality: number,
): ProcessingOptions {
  const quality = input?.quality ?? defaultQuality;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new ServiceError('BAD_USER_INPUT', 'quality must be a whole number from 1 to 100.');
  }
  return {
    quality,
    format: input?.format ?? 'ORIGINAL',
    maxWidth: dimension('maxWidth', input?.maxWidth),
    maxHeight: dimension('maxHeight', input?.maxHeight),
    keepMetadata: input?.keepMetadata ?? false,
  };
}

const MAX_WEBHOOK_URL_LENGTH = 2048;

/**
 * Checks a webhook URL's shape when it is given; where it points is checked on delivery.
 *
 * @throws ServiceError `BAD_USER_INPUT` saying what is wrong
 */
export function validateWebhookUrl(
  value: string | null | undefined,
  field = 'webhookUrl',
): string | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  const url = value.trim();
  if (url.length > MAX_WEBHOOK_URL_LENGTH) {
    throw new ServiceError(
      'BAD_USER_INPUT',
      `${field} must be at most ${MAX_WEBHOOK_URL_LENGTH} characters.`,
    );
  }
  if (hasControlCharacter(url)) {
    throw new ServiceError('BAD_USER_INPUT', `${field} must not contain control characters.`);
  }
  if (!URL.canParse(url)) throw new ServiceError('BAD_USER_INPUT', `${field} is not a valid URL.`);
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ServiceError('BAD_USER_INPUT', `${field} must be an http or https URL.`);
  }
  if (parsed.username || parsed.password) {
    throw new ServiceError('BAD_USER_INPUT', `${field} must not contain a user name or password.`);
  }
  return url;
}
