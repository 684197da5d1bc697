import { Readable } from 'node:stream';

import { stringify } from 'csv-stringify';

import type { ProductWithImages } from '../domain/request.ts';

/** Products read per database round trip while the CSV streams out. */
const PAGE_SIZE = 500;

export const OUTPUT_COLUMNS = ['S. No.', 'Product Name', 'Input Image Urls', 'Output Image Urls'];

type ReadPage = (
  first: number,
  afterPosition: number | null,
) => Promise<{ items: ProductWithImages[]; hasMore: boolean }>;

async function* rows(readPage: ReadPage): AsyncGenerator<string[]> {
  let after: number | null = null;
  for (;;) {
    const page = await readPage(PAGE_SIZE, after);
    for (const product of page.items) {
      yield [
        String(product.serialNumber),
        product.name,
        product.images.map((img) => img.inputUrl).join(','),
        // A failed image keeps its place, empty, so outputs line up with inputs.
        product.images.map((img) => img.outputUrl ?? '').join(','),
      ];
    }
    const last = page.items.at(-1);
    if (!page.hasMore || !last) return;
    after = last.position;
  }
}

/**
 * The output CSV of a request as a stream: the input's columns and `Output Image Urls`, one
 * row per product in file order, read from the database a page at a time.
 */
export function outputCsvStream(readPage: ReadPage): Readable {
  return Readable.from(rows(readPage)).pipe(
    stringify({
      header: true,
      columns: OUTPUT_COLUMNS,
      // A cell starting with = + - @ is written with a leading ' so a spreadsheet shows it as
      // text instead of running it as a formula.
      escape_formulas: true,
    }),
  );
}
