/**
 * Why a store refused or could not be reached:
 * - `STORAGE_UNREACHABLE`: no answer from the store (connection refused, DNS, timeout);
 * - `BUCKET_NOT_FOUND`: the configured bucket does not exist;
 * - `OBJECT_NOT_FOUND`: no object under the key asked for;
 * - `ACCESS_DENIED`: the store answered 401/403 (credentials or bucket policy);
 * - `STORAGE_FAILED`: any other error answer from the store.
 */
export type StorageErrorCode =
  | 'STORAGE_UNREACHABLE'
  | 'BUCKET_NOT_FOUND'
  | 'OBJECT_NOT_FOUND'
  | 'ACCESS_DENIED'
  | 'STORAGE_FAILED';

/**
 * A store's failure in words an operator can act on, naming the bucket or endpoint but never a
 * credential or a signed URL. The SDK's own error stays in `cause` for the logs.
 */
export class StorageError extends Error {
  override readonly name = 'StorageError';

  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
