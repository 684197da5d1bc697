/** The required columns, by their canonical names, in the order the output CSV uses. */
export const CSV_COLUMNS = ['S. No.', 'Product Name', 'Input Image Urls'] as const;

/** One of the canonical column names in {@link CSV_COLUMNS}. */
export type CsvColumn = (typeof CSV_COLUMNS)[number];

/** The 0-based cell index of each required column in a row. */
export type ColumnPositions = Readonly<Record<CsvColumn, number>>;

/** The outcome of reading a header row. */
export type HeaderMatch = { ok: true; positions: ColumnPositions } | { ok: false; message: string };

const HEADER_NAMES: ReadonlyMap<string, CsvColumn> = new Map([
  ['s. no.', 'S. No.'],
  ['s.no.', 'S. No.'],
  ['s no', 'S. No.'],
  ['s.no', 'S. No.'],
  ['s no.', 'S. No.'],
  ['serial number', 'S. No.'],
  ['product name', 'Product Name'],
  ['input image urls', 'Input Image Urls'],
]);

const EXPECTED_HEADERS = CSV_COLUMNS.map((column) => `"${column}"`).join(', ');

/**
 * Finds the required columns in a header row. Names match after trimming, collapsing whitespace
 * runs and ignoring case; `S. No.` also answers to `S.No.`, `S No`, `Serial Number`, `S.No` and
 * `S No.`. Unknown columns are ignored.
 *
 * @returns the positions, or one message naming what is missing or doubled and what is expected.
 */
export function matchHeader(cells: readonly string[]): HeaderMatch {
  const found = new Map<CsvColumn, string[]>();

  cells.forEach((cell) => {
    const column = HEADER_NAMES.get(normaliseHeaderName(cell));
    if (column !== undefined) found.set(column, [...(found.get(column) ?? []), cell.trim()]);
  });

  const missing = CSV_COLUMNS.filter((column) => !found.has(column));
  if (missing.length > 0) return { ok: false, message: describeMissing(missing, cells) };

  const doubled = [...found].find(([, names]) => names.length > 1);
  if (doubled !== undefined) return { ok: false, message: describeDoubled(...doubled) };

  return { ok: true, positions: positionsOf(cells) };
}

function normaliseHeaderName(cell: string): string {
  return cell.trim().replace(/\s+/g, ' ').toLowerCase();
}

function positionsOf(cells: readonly string[]): ColumnPositions {
  const names = cells.map(normaliseHeaderName);
  const indexOf = (column: CsvColumn): number =>
    names.findIndex((name) => HEADER_NAMES.get(name) === column);

  return {
    'S. No.': indexOf('S. No.'),
    'Product Name': indexOf('Product Name'),
    'Input Image Urls': indexOf('Input Image Urls'),
  };
}

function describeMissing(missing: readonly CsvColumn[], cells: readonly string[]): string {
  const what = missing.length === 1 ? 'column' : 'columns';
  const found = cells.map((cell) => JSON.stringify(cell.trim())).join(', ');

  return (
    `The header row is missing the ${what} ${missing.join(', ')}. ` +
    `Expected the headers ${EXPECTED_HEADERS} (in any order; other columns are ignored), ` +
    `found ${found}.`
  );
}

function describeDoubled(column: CsvColumn, names: readonly string[]): string {
  const listed = names.map((name) => JSON.stringify(name)).join(' and ');
  return `The header row has more than one ${column} column (${listed}); keep only one of them.`;
}
