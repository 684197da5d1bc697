/**
 * Error codes are the public contract: GraphQL `extensions.code` and REST `error.code`.
 * The class below stays internal; transports map it to their own shape.
 */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CSV_INVALID',
  'RATE_LIMITED',
  'PAYLOAD_TOO_LARGE',
  'CONFLICT',
  'INTERNAL_SERVER_ERROR',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** One thing wrong with an uploaded CSV. */
export interface CsvProblem {
  line: number;
  column: string | null;
  message: string;
}

/** An error whose message is safe and useful to show the client as it is. */
export class ServiceError extends Error {
  constructor(
    readonly code: Exclude<ErrorCode, 'INTERNAL_SERVER_ERROR'>,
    message: string,
    readonly problems?: readonly CsvProblem[],
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

/** HTTP status that fits each code. */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'BAD_USER_INPUT':
    case 'CSV_INVALID':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'NOT_FOUND':
      return 404;
    case 'CONFLICT':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'RATE_LIMITED':
      return 429;
    case 'INTERNAL_SERVER_ERROR':
      return 500;
  }
}
