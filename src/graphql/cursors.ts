import { ServiceError } from '../errors.ts';

/** Cursors are opaque to clients: base64url JSON of the sort key of the last item. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** @throws ServiceError `BAD_USER_INPUT` when the cursor was not made by this service */
export function decodeCursor<T>(cursor: string, isValid: (value: unknown) => value is T): T {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (isValid(value)) return value;
  } catch {
    // Not JSON: reported below like any other foreign cursor.
  }
  throw new ServiceError(
    'BAD_USER_INPUT',
    'The cursor is not valid; pass an endCursor from a previous page.',
  );
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** @throws ServiceError `BAD_USER_INPUT` when `first` is outside 1 to MAX_PAGE_SIZE */
export function pageSize(first: number | null | undefined): number {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (size < 1 || size > MAX_PAGE_SIZE) {
    throw new ServiceError('BAD_USER_INPUT', `first must be from 1 to ${MAX_PAGE_SIZE}.`);
  }
  return size;
}
