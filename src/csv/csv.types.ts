/** One product row that passed every check. */
export interface ParsedProduct {
  /** The row's `S. No.`: a positive 32-bit integer, unique in the file. */
  serialNumber: number;
  /** The product name, trimmed, with every whitespace run (line breaks included) turned into one space. */
  name: string;
  /** The image URLs in file order, each trimmed but otherwise exactly as the user wrote it. */
  imageUrls: string[];
  /** The 1-based physical line where the row starts in the file; the header is line 1. */
  line: number;
}

/** One thing wrong with an uploaded CSV, worded for the catalogue manager who wrote it. */
export interface CsvProblem {
  /** The 1-based physical line where the offending row starts; the header is line 1. */
  line: number;
  /** The canonical column (`'S. No.'`, `'Product Name'`, `'Input Image Urls'`), or `null` for row- and file-level problems. */
  column: string | null;
  /** What is wrong and what is expected instead. */
  message: string;
}

/** Upper bounds a CSV must stay within; every one is checked and reported as a problem. */
export interface CsvLimits {
  /** Product rows per file. */
  maxRows: number;
  /** Image URLs in one row. */
  maxUrlsPerRow: number;
  /** Image URLs in the whole file. */
  maxImages: number;
  /** Length of one image URL, in characters (Unicode code points). */
  maxUrlLength: number;
  /** Length of a product name after whitespace is collapsed, in characters (Unicode code points). */
  maxNameLength: number;
}

/**
 * Where the products of a file go as it is read, each as soon as its row has passed every check,
 * in file order. Only while the file is free of problems: once one is found, none is added, and
 * those added before are to be dropped, since the file is rejected whole.
 */
export interface ProductSink {
  add(product: ParsedProduct): void;
  /**
   * Resolves when the sink can take more (a file it writes has drained); undefined when it can
   * now. The reader asks after each record, so a slow sink holds the reading back.
   */
  ready?(): Promise<void> | undefined;
}

/** The counts of a valid file, whose products went to the sink, or every problem of an invalid one. */
export type CsvReadResult =
  { ok: true; productCount: number; imageCount: number } | { ok: false; problems: CsvProblem[] };

/** Either every product of a valid file, or every problem of an invalid one; never both. */
export type CsvParseResult =
  | { ok: true; products: ParsedProduct[]; imageCount: number }
  | { ok: false; problems: CsvProblem[] };
