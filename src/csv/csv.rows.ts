import { checkImageUrls, checkProductName, checkSerialNumber, splitUrlList } from './csv.cells.ts';
import type { ColumnPositions, CsvColumn } from './csv.columns.ts';
import type { ProblemList } from './csv.problems.ts';
import type { CsvLimits, ProductSink } from './csv.types.ts';

/**
 * Checks the product rows that follow a valid header, one at a time, and hands each valid
 * product to the sink while the file is still free of problems. Once any problem is known the
 * file will be rejected whole, so no product goes to the sink after that.
 */
export class ProductRows {
  readonly #positions: ColumnPositions;
  readonly #headerWidth: number;
  readonly #limits: CsvLimits;
  readonly #problems: ProblemList;
  readonly #serialLines = new Map<number, number>();
  readonly #sink: ProductSink;
  #productCount = 0;
  #rowCount = 0;
  #imageCount = 0;

  constructor(
    positions: ColumnPositions,
    headerWidth: number,
    limits: CsvLimits,
    problems: ProblemList,
    sink: ProductSink,
  ) {
    this.#sink = sink;
    this.#positions = positions;
    this.#headerWidth = headerWidth;
    this.#limits = limits;
    this.#problems = problems;
  }

  /** Non-blank rows seen so far, valid or not. */
  get rowCount(): number {
    return this.#rowCount;
  }

  /** Image URLs seen so far in all rows, valid or not. */
  get imageCount(): number {
    return this.#imageCount;
  }

  /** Products handed to the sink; every valid row while no problem has been reported. */
  get productCount(): number {
    return this.#productCount;
  }

  /** Checks one non-blank row that starts on `line`, reporting each problem it has. */
  add(cells: readonly string[], line: number): void {
    this.#rowCount += 1;
    this.#checkRowLimit(line);
    this.#checkExtraCells(cells, line);

    const serialNumber = this.#readSerialNumber(cells, line);
    const name = this.#readName(cells, line);
    const imageUrls = this.#readImageUrls(cells, line);

    if (this.#problems.count > 0) return;
    if (serialNumber !== null && name !== null && imageUrls !== null) {
      this.#productCount += 1;
      this.#sink.add({ serialNumber, name, imageUrls, line });
    }
  }

  #checkRowLimit(line: number): void {
    const { maxRows } = this.#limits;
    if (this.#rowCount !== maxRows + 1) return;

    this.#problems.add(
      line,
      null,
      `The file has more than ${maxRows} product rows; the limit is ${maxRows} per file. Split it into smaller files`,
    );
  }

  #checkExtraCells(cells: readonly string[], line: number): void {
    const extra = cells.slice(this.#headerWidth);
    if (extra.every((cell) => cell.trim() === '')) return;

    this.#problems.add(
      line,
      null,
      `This row has ${cells.length} values but the header has ${this.#headerWidth} columns; ` +
        'put double quotes around any value that contains a comma, such as a list of URLs',
    );
  }

  #readSerialNumber(cells: readonly string[], line: number): number | null {
    const cell = this.#cell(cells, 'S. No.', line);
    if (cell === null) return null;

    const check = checkSerialNumber(cell);
    if (!check.ok) {
      this.#problems.add(line, 'S. No.', check.problem);
      return null;
    }

    const firstLine = this.#serialLines.get(check.value);
    if (firstLine !== undefined) {
      this.#problems.add(
        line,
        'S. No.',
        `S. No. ${check.value} is already used on line ${firstLine}; every product needs its own number`,
      );
      return null;
    }

    // Past the row limit the file is rejected anyway; remembering more serials would only cost memory.
    if (this.#rowCount <= this.#limits.maxRows) this.#serialLines.set(check.value, line);
    return check.value;
  }

  #readName(cells: readonly string[], line: number): string | null {
    const cell = this.#cell(cells, 'Product Name', line);
    if (cell === null) return null;

    const check = checkProductName(cell, this.#limits.maxNameLength);
    if (check.ok) return check.value;

    this.#problems.add(line, 'Product Name', check.problem);
    return null;
  }

  #readImageUrls(cells: readonly string[], line: number): string[] | null {
    const cell = this.#cell(cells, 'Input Image Urls', line);
    if (cell === null) return null;

    const urls = splitUrlList(cell);
    this.#countImages(urls.length, line);
    const problems = checkImageUrls(urls, this.#limits);

    for (const problem of problems) this.#problems.add(line, 'Input Image Urls', problem);
    return problems.length === 0 ? urls : null;
  }

  #countImages(count: number, line: number): void {
    const { maxImages } = this.#limits;
    const before = this.#imageCount;
    this.#imageCount += count;
    if (before > maxImages || this.#imageCount <= maxImages) return;

    this.#problems.add(
      line,
      'Input Image Urls',
      `The file has more than ${maxImages} image URLs in total; the limit is ${maxImages} per file. Split it into smaller files`,
    );
  }

  #cell(cells: readonly string[], column: CsvColumn, line: number): string | null {
    const cell = cells[this.#positions[column]];
    if (cell !== undefined) return cell;

    this.#problems.add(
      line,
      column,
      `${column} is missing: this row has ${cells.length} values but the header has ${this.#headerWidth} columns`,
    );
    return null;
  }
}
