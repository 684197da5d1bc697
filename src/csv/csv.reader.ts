import { CSV_COLUMNS, matchHeader } from './csv.columns.ts';
import type { ColumnPositions, CsvColumn } from './csv.columns.ts';
import { ProblemList } from './csv.problems.ts';
import { ProductRows } from './csv.rows.ts';
import type { CsvLimits, CsvReadResult, ProductSink } from './csv.types.ts';

const LINE_BREAK = /\r\n|\r|\n/g;

interface PendingSyntaxError {
  message: string;
  cellIndex: number | null;
  recordsBefore: number;
}

/**
 * Follows a product CSV record by record: skips blank records, reads the first other one as the
 * header, hands the rest to {@link ProductRows}, and keeps the physical line each record starts on.
 * Transport-free: the caller feeds it the records a CSV parser produced, in order, and the valid
 * products go to its sink.
 */
export class ProductCsvReader {
  readonly #limits: CsvLimits;
  readonly #sink: ProductSink;
  readonly #problems = new ProblemList();
  #nextLine = 1;
  #headerLine = 0;
  #positions: ColumnPositions | null = null;
  #rows: ProductRows | null = null;
  #recordCount = 0;
  #pendingSyntaxError: PendingSyntaxError | null = null;
  #unreadable = false;

  constructor(limits: CsvLimits, sink: ProductSink) {
    this.#limits = limits;
    this.#sink = sink;
  }

  /**
   * Takes the next record's cells, including blank records, since each one occupies at least one
   * line of the file. Records after a syntax error (see {@link rejectSyntax}) are ignored.
   */
  accept(cells: readonly string[]): void {
    if (this.#reportPendingSyntaxError()) return;

    const line = this.#nextLine;
    this.#nextLine += 1 + countLineBreaks(cells);
    this.#recordCount += 1;

    if (cells.every((cell) => cell.trim() === '')) return;
    if (this.#headerLine === 0) {
      this.#readHeader(cells, line);
      return;
    }
    this.#rows?.add(cells, line);
  }

  /**
   * Notes that the parser gave up on the record that follows the first `recordsBefore` records.
   * The parser reports this before the consumer has seen all of those records, so the problem
   * is filed once they have been accepted; nothing after that point is read. `cellIndex` is the
   * 0-based cell the parser gave up in, when known. Only the first syntax error counts.
   */
  rejectSyntax(message: string, cellIndex: number | null, recordsBefore: number): void {
    this.#pendingSyntaxError ??= { message, cellIndex, recordsBefore };
  }

  /** The verdict on everything accepted so far; call once, after the last record. */
  result(): CsvReadResult {
    this.#reportPendingSyntaxError();
    this.#checkCompleteness();

    if (this.#rows === null || this.#problems.count > 0) {
      return { ok: false, problems: this.#problems.toArray() };
    }
    return { ok: true, productCount: this.#rows.productCount, imageCount: this.#rows.imageCount };
  }

  #reportPendingSyntaxError(): boolean {
    const pending = this.#pendingSyntaxError;
    if (pending === null || this.#recordCount < pending.recordsBefore) return false;

    if (!this.#unreadable) {
      this.#unreadable = true;
      this.#problems.add(this.#nextLine, this.#columnAt(pending.cellIndex), pending.message);
    }
    return true;
  }

  #readHeader(cells: readonly string[], line: number): void {
    this.#headerLine = line;

    const match = matchHeader(cells);
    if (!match.ok) {
      this.#problems.add(line, null, match.message);
      return;
    }

    this.#positions = match.positions;
    this.#rows = new ProductRows(
      match.positions,
      cells.length,
      this.#limits,
      this.#problems,
      this.#sink,
    );
  }

  #checkCompleteness(): void {
    if (this.#unreadable) return;

    if (this.#headerLine === 0) {
      this.#problems.add(
        1,
        null,
        `The file is empty. Expected a header row (${CSV_COLUMNS.join(', ')}) and one row per product.`,
      );
      return;
    }

    if (this.#rows?.rowCount === 0) {
      this.#problems.add(
        this.#headerLine,
        null,
        'The file has a header row but no product rows; add one row per product below the header.',
      );
    }
  }

  #columnAt(cellIndex: number | null): CsvColumn | null {
    const positions = this.#positions;
    if (positions === null || cellIndex === null) return null;

    return CSV_COLUMNS.find((column) => positions[column] === cellIndex) ?? null;
  }
}

// A record ends at the first line break outside quotes, so any break left in its cells (quoted,
// or a lone CR) is one more line the record spans.
function countLineBreaks(cells: readonly string[]): number {
  let count = 0;
  for (const cell of cells) {
    if (cell.includes('\n') || cell.includes('\r')) count += cell.match(LINE_BREAK)?.length ?? 0;
  }
  return count;
}
