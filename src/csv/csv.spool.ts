import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';

import { isProcessRunning } from '../processes.ts';
import type { ParsedProduct, ProductSink } from './csv.types.ts';

/** What is stored of a checked product. */
export type ProductToStore = Pick<ParsedProduct, 'serialNumber' | 'name' | 'imageUrls'>;

/**
 * Products to store as the database reads them: `json` is a JSON array of `count` rows, each
 * `[serialNumber, name, [imageUrl, …]]`. The database parses it (`jsonb_array_elements`), so a
 * batch costs the service one string, not an object per product and per URL.
 */
export interface ProductBatch {
  json: string;
  count: number;
}

/** Checked products to store, read a batch at a time, with their counts. */
export interface ProductSource {
  productCount: number;
  imageCount: number;
  /** The products in file order, at most `size` to a batch. */
  batches(size: number): AsyncIterable<ProductBatch>;
}

/** What is written of a product: all that is stored of it (its line is only for problems). */
type SpooledProduct = [serialNumber: number, name: string, imageUrls: string[]];

/** Spool files are `<prefix><pid>-<uuid>.jsonl`: the process that writes one is in its name. */
const FILE_PREFIX = 'image-pipeline-upload-';
const FILE_NAME = new RegExp(`^${FILE_PREFIX}(\\d+)-[0-9a-f-]+\\.jsonl$`);

/** Writing an upload's temporary file failed (the disk is full, TMPDIR is not writable). */
export class SpoolError extends Error {
  constructor(cause: Error) {
    super(`Writing the upload's temporary file failed: ${cause.message}`, { cause });
    this.name = 'SpoolError';
  }
}

const NEWLINE = 0x0a;
/** Characters of lines gathered before they are written: one write per 64 KB, not one per row. */
const WRITE_BYTES = 65_536;

/** A batch of spooled lines (each ends with a newline) as a JSON array. */
function batchOf(lines: Buffer, count: number): ProductBatch {
  return { json: `[${lines.toString('utf8', 0, lines.length - 1).replaceAll('\n', ',')}]`, count };
}

/**
 * The checked products of an upload in a temporary file, one JSON line each, written while the
 * CSV is read and read back a batch at a time while they are stored. So an upload holds one
 * batch of products in memory, not the whole file: 100,000 rows would otherwise take some
 * hundred MB of objects. The file, readable by this user only, is in the system's temporary
 * directory, and {@link discard} deletes it.
 */
export class ProductSpool implements ProductSink {
  /** Spools not yet discarded, for {@link ProductSpool.discardAll}. */
  private static readonly live = new Set<ProductSpool>();

  private readonly file = path.join(
    os.tmpdir(),
    `${FILE_PREFIX}${process.pid}-${randomUUID()}.jsonl`,
  );
  // Opened in the background; what is written meanwhile waits in the stream. Made at once, so
  // whoever makes a spool can start reading the upload in the same turn (a stream that fails
  // before anything listens would be an unhandled error).
  private readonly out = createWriteStream(this.file, { flags: 'wx', mode: 0o600 });
  private productCount = 0;
  private imageCount = 0;
  /** Lines not yet handed to the stream: written `WRITE_BYTES` at a time, not one by one. */
  private lines: string[] = [];
  private lineBytes = 0;
  private discarded = false;
  /** Why writing failed (the disk is full): the reading stops at the next record. */
  private failure: Error | undefined;

  constructor() {
    ProductSpool.live.add(this);
    this.out.on('error', (error) => {
      this.failure ??= error;
    });
  }

  /**
   * Deletes the files of uploads that will not be stored: at stop, those still being read or
   * stored when the grace period ended.
   */
  static async discardAll(): Promise<void> {
    await Promise.all([...ProductSpool.live].map((spool) => spool.discard()));
  }

  /**
   * Deletes the spool files that processes no longer running left in the temporary directory
   * (a crash, a kill). Files of live processes, other services' included, are left alone.
   *
   * @returns how many files were deleted
   */
  static async removeOrphans(): Promise<number> {
    const dir = os.tmpdir();
    const names = await readdir(dir).catch(() => []);
    const orphans = names.filter((name) => {
      const pid = Number(FILE_NAME.exec(name)?.[1]);
      return Number.isInteger(pid) && pid !== process.pid && !isProcessRunning(pid);
    });
    await Promise.all(orphans.map((name) => rm(path.join(dir, name), { force: true })));
    return orphans.length;
  }

  /** Why writing failed, as a {@link SpoolError}; undefined while it has not. */
  get writeError(): SpoolError | undefined {
    return this.failure && new SpoolError(this.failure);
  }

  add(product: ParsedProduct): void {
    this.productCount += 1;
    this.imageCount += product.imageUrls.length;
    const row: SpooledProduct = [product.serialNumber, product.name, product.imageUrls];
    const line = `${JSON.stringify(row)}\n`;
    this.lines.push(line);
    this.lineBytes += line.length;
    if (this.lineBytes >= WRITE_BYTES) this.flush();
  }

  ready(): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.out.writableNeedDrain) return undefined;
    return new Promise((resolve, reject) => {
      const settle = (error?: Error) => {
        this.out.off('drain', settle).off('error', settle);
        if (error) reject(error);
        else resolve();
      };
      this.out.on('drain', settle).on('error', settle);
    });
  }

  /**
   * Ends the writing.
   *
   * @returns the products written, to be read back a batch at a time
   */
  async close(): Promise<ProductSource> {
    this.flush();
    this.out.end();
    await finished(this.out);
    return {
      productCount: this.productCount,
      imageCount: this.imageCount,
      batches: (size) => this.read(size),
    };
  }

  /** Deletes the file; safe to call more than once, and while it is still being written. */
  async discard(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    ProductSpool.live.delete(this);
    // The file may still be opening: it is removed once the stream has closed, not before.
    if (!this.out.closed) {
      await new Promise<void>((resolve) => {
        this.out.once('close', () => {
          resolve();
        });
        this.out.destroy();
      });
    }
    await rm(this.file).catch((error: unknown) => {
      // Never made: its directory is missing or is not one (what made the writing fail).
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    });
  }

  private flush(): void {
    if (this.lines.length === 0) return;
    this.out.write(this.lines.join(''));
    this.lines = [];
    this.lineBytes = 0;
  }

  /** The file's lines, `size` to a batch; the bytes are only cut at line ends, never parsed. */
  private async *read(size: number): AsyncGenerator<ProductBatch> {
    let held: Buffer[] = [];
    let lines = 0;
    for await (const chunk of createReadStream(this.file) as AsyncIterable<Buffer>) {
      let cut = 0;
      for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, end + 1)) {
        lines += 1;
        if (lines < size) continue;
        held.push(chunk.subarray(cut, end + 1));
        yield batchOf(Buffer.concat(held), lines);
        held = [];
        lines = 0;
        cut = end + 1;
      }
      if (cut < chunk.length) held.push(chunk.subarray(cut));
    }
    if (lines > 0) yield batchOf(Buffer.concat(held), lines);
  }
}

/** A source over products already in memory: for small lists made in code (tests, the demo). */
export function productsInMemory(products: readonly ProductToStore[]): ProductSource {
  return {
    productCount: products.length,
    imageCount: products.reduce((n, p) => n + p.imageUrls.length, 0),
    async *batches(size) {
      for (let i = 0; i < products.length; i += size) {
        await Promise.resolve();
        const rows: SpooledProduct[] = products
          .slice(i, i + size)
          .map((p) => [p.serialNumber, p.name, p.imageUrls]);
        yield { json: JSON.stringify(rows), count: rows.length };
      }
    },
  };
}
