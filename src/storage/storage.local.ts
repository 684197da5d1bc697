import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type { ObjectStorage } from './storage.ts';

/**
 * Files under one directory, served by the HTTP server at `<publicUrl>/files/<key>`.
 * Writes go to a temporary name in the same directory and are renamed into place, so a reader
 * or a crash never sees half a file.
 */
export class LocalStorage implements ObjectStorage {
  readonly kind = 'local';
  /** Directories known to exist, so a put costs one mkdir per request, not one per file. */
  private readonly madeDirs = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly publicBaseUrl: string,
  ) {}

  async put(key: string, body: Buffer | Readable, _contentType: string): Promise<void> {
    const target = this.resolve(key);
    const temp = `${target}.${randomUUID()}.tmp`;
    const dir = path.dirname(target);
    if (!this.madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.madeDirs.add(dir);
    }

    try {
      if (Buffer.isBuffer(body)) await writeFile(temp, body);
      else await pipeline(body, createWriteStream(temp));
      await rename(temp, target);
    } catch (error: unknown) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    const file = this.resolve(key);
    await access(file);
    return createReadStream(file);
  }

  urlFor(key: string): Promise<string> {
    const encoded = key.split('/').map(encodeURIComponent).join('/');
    return Promise.resolve(`${this.publicBaseUrl}/files/${encoded}`);
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await access(this.root);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The file for a key; refuses keys that would leave the root. */
  private resolve(key: string): string {
    const file = path.resolve(this.root, key);
    if (!file.startsWith(this.root + path.sep)) throw new Error(`Invalid storage key: ${key}`);
    return file;
  }
}
