import type { Readable } from 'node:stream';

/**
 * Where processed images and output CSVs are kept. Keys are relative paths such as
 * `requests/<requestId>/images/<imageId>.jpg`; each is written whole or not at all.
 */
export interface ObjectStorage {
  readonly kind: 'local' | 's3';
  /** Stores `body` under `key`, replacing what was there. */
  put(key: string, body: Buffer | Readable, contentType: string): Promise<void>;
  /** Reads an object back; rejects when it does not exist. */
  get(key: string): Promise<Readable>;
  /** The URL a client downloads the object from. */
  urlFor(key: string): Promise<string>;
  /** Resolves while the store is reachable; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Key layout shared by every store. */
export const storageKeys = {
  image: (requestId: string, imageId: string, extension: string) =>
    `requests/${requestId}/images/${imageId}.${extension}`,
  outputCsv: (requestId: string) => `requests/${requestId}/output.csv`,
};
