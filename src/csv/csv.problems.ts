import type { CsvColumn } from './csv.columns.ts';
import type { CsvProblem } from './csv.types.ts';

/** How many problems are listed in full; later ones are only counted. */
export const MAX_LISTED_PROBLEMS = 1000;

/**
 * Collects a file's problems in the order they are found. The first
 * {@link MAX_LISTED_PROBLEMS} are kept; the rest are counted and summed up in one final problem,
 * so a hopeless file cannot grow the report without bound.
 */
export class ProblemList {
  readonly #listed: CsvProblem[] = [];
  #omitted = 0;
  #firstOmittedLine = 0;

  /** Every problem found so far, listed or not. */
  get count(): number {
    return this.#listed.length + this.#omitted;
  }

  /** Records one problem; `column` is `null` for row- and file-level problems. */
  add(line: number, column: CsvColumn | null, message: string): void {
    if (this.#listed.length < MAX_LISTED_PROBLEMS) {
      this.#listed.push({ line, column, message });
      return;
    }

    if (this.#omitted === 0) this.#firstOmittedLine = line;
    this.#omitted += 1;
  }

  /** The listed problems, followed by a summary of the omitted ones when there are any. */
  toArray(): CsvProblem[] {
    if (this.#omitted === 0) return [...this.#listed];

    const more = this.#omitted === 1 ? '1 more problem was' : `${this.#omitted} more problems were`;
    const message =
      `${more} not listed, starting on this line (only the first ${MAX_LISTED_PROBLEMS} are ` +
      'shown). Fix the problems above and upload the file again to see the rest.';

    return [...this.#listed, { line: this.#firstOmittedLine, column: null, message }];
  }
}
