import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { parse } from 'csv-parse';
import type { CsvError, Options } from 'csv-parse';

import { ProductCsvReader } from './csv.reader.ts';
import type {
  CsvLimits,
  CsvParseResult,
  CsvReadResult,
  ParsedProduct,
  ProductSink,
} from './csv.types.ts';

export { CSV_COLUMNS } from './csv.columns.ts';
export type { CsvColumn } from './csv.columns.ts';
export type {
  CsvLimits,
  CsvParseResult,
  CsvProblem,
  CsvReadResult,
  ParsedProduct,
  ProductSink,
} from './csv.types.ts';

// Line numbers are counted from the cells (see ProductCsvReader), not from csv-parse's
// `info.lines`, which counts a CRLF inside a quoted value as two lines. For the same reason
// blank lines are not skipped by the parser: each must come through to be counted.
const PARSER_OPTIONS: Options = {
  bom: true,
  relax_column_count: true,
  // Listed rather than auto-detected, so that a file mixing LF and CRLF rows still reads cleanly.
  record_delimiter: ['\r\n', '\n'],
};

/** The least room, in bytes, given to one record, whatever the limits; extra columns need space too. */
const MIN_RECORD_BYTES = 1_048_576;

const QUOTING_ADVICE =
  'Put the whole value in double quotes and write each double quote inside it twice ("").';

/**
 * Parses and validates a product CSV read as a stream: a header row naming `S. No.`,
 * `Product Name` and `Input Image Urls` (see {@link CSV_COLUMNS}), then one row per product.
 * The stream is consumed incrementally with backpressure; it is never held in memory whole, and
 * each valid product goes to `sink` as soon as its row is read (see {@link ProductSink}).
 *
 * Never throws for bad content: every problem comes back in the result, each with the line its
 * row starts on (the header is line 1), up to 1000 listed plus one line counting the rest. Broken
 * quoting stops the reading at that row and is reported as a problem too.
 *
 * @param input - the raw bytes of the file (UTF-8, optional BOM, LF or CRLF line endings).
 * @param limits - bounds on rows, URLs and lengths; exceeding one is a problem, not a throw.
 * @returns the counts when the file has no problem at all, otherwise every problem found.
 * @throws the input stream's own error, unchanged, when the stream fails (for example the upload
 *   was cut off or exceeded its byte limit), so that the caller can map it.
 */
export async function readProductCsv(
  input: Readable,
  limits: CsvLimits,
  sink: ProductSink,
): Promise<CsvReadResult> {
  const reader = new ProductCsvReader(limits, sink);
  const parser = parse({
    ...PARSER_OPTIONS,
    // Without a bound, an unclosed quote would buffer the rest of the upload into one value.
    max_record_size: maxRecordBytes(limits),
    // A parser that fails destroys itself and drops records it parsed but we have not read yet,
    // so syntax errors are taken as skips and placed in order by the reader instead.
    skip_records_with_error: true,
    on_skip: (error) => {
      if (error !== undefined) {
        reader.rejectSyntax(describeSyntaxError(error), cellIndexOf(error), recordsBefore(error));
      }
    },
  });

  // csv-parse yields string[] records when neither `columns` nor `info` is set.
  await pipeline(input, parser, async (records: AsyncIterable<string[]>) => {
    for await (const cells of records) {
      reader.accept(cells);
      const ready = sink.ready?.();
      if (ready) await ready;
    }
  });

  return reader.result();
}

/**
 * {@link readProductCsv} with the products kept in memory and returned: for files known to be
 * small. The service stores uploads through a file instead (see `ProductSpool`).
 */
export async function parseProductCsv(input: Readable, limits: CsvLimits): Promise<CsvParseResult> {
  const products: ParsedProduct[] = [];
  const result = await readProductCsv(input, limits, { add: (product) => products.push(product) });
  if (!result.ok) return result;
  return { ok: true, products, imageCount: result.imageCount };
}

function maxRecordBytes(limits: CsvLimits): number {
  const longestValidRow = limits.maxNameLength + limits.maxUrlsPerRow * (limits.maxUrlLength + 1);

  // UTF-8 takes up to 4 bytes a character; doubling leaves room for columns that are ignored.
  return Math.max(MIN_RECORD_BYTES, 2 * 4 * longestValidRow);
}

function describeSyntaxError(error: CsvError): string {
  switch (error.code) {
    case 'INVALID_OPENING_QUOTE':
      return `A double quote (") appears inside a value that does not start with one. ${QUOTING_ADVICE}`;
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return `A quoted value is followed by more text before the next comma. ${QUOTING_ADVICE}`;
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'A quoted value in the row starting on this line is never closed; add the missing closing double quote (").';
    case 'CSV_MAX_RECORD_SIZE':
      return 'The row starting on this line is too long to be a product row; check that every quoted value on it is closed.';
    default:
      return `The file could not be read as CSV from this line on: ${error.message}`;
  }
}

function cellIndexOf(error: CsvError): number | null {
  return typeof error.column === 'number' ? error.column : null;
}

function recordsBefore(error: CsvError): number {
  return typeof error.records === 'number' ? error.records : 0;
}
