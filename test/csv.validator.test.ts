import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import { CSV_COLUMNS, parseProductCsv } from '../src/csv/csv.validator.ts';
import type {
  CsvColumn,
  CsvLimits,
  CsvParseResult,
  CsvProblem,
  ParsedProduct,
} from '../src/csv/csv.validator.ts';

/** A problem as a test expects it: line, column, and a piece of text its message contains. */
type ExpectedProblem = [line: number, column: CsvColumn | null, message: string];

const LIMITS: CsvLimits = {
  maxRows: 1000,
  maxUrlsPerRow: 10,
  maxImages: 10_000,
  maxUrlLength: 2048,
  maxNameLength: 200,
};
const HEADER = 'S. No.,Product Name,Input Image Urls\n';
const CRLF_HEADER = 'S. No.,Product Name,Input Image Urls\r\n';
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const A = 'https://img.test/a.jpg';
const B = 'https://img.test/b.jpg';
const WIDGET: ParsedProduct = { serialNumber: 1, name: 'Widget A', imageUrls: [A, B], line: 2 };
const WIDGET_ROW = `1,Widget A,"${A},${B}"\r\n`;
const C02_INPUT = `${CRLF_HEADER}1,"Shirt, Blue\nXL","${A},\r\n${B}"\r\n\r\n\r\n,,\r\n`;

function parseChunks(chunks: (string | Buffer)[], limits = LIMITS): Promise<CsvParseResult> {
  const buffers = chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
  return parseProductCsv(Readable.from(buffers), limits);
}

function parseText(text: string, limits: Partial<CsvLimits> = {}): Promise<CsvParseResult> {
  return parseChunks([text], { ...LIMITS, ...limits });
}

function productsOf(result: CsvParseResult): ParsedProduct[] {
  if (!result.ok) throw new Error(`expected no problems, got ${JSON.stringify(result.problems)}`);
  return result.products;
}

function problemsOf(result: CsvParseResult): CsvProblem[] {
  if (result.ok) throw new Error('expected problems, but the file was accepted');
  return result.problems;
}

function expectProblems(result: CsvParseResult, expected: readonly ExpectedProblem[]): void {
  const problems = problemsOf(result);

  expect(problems.map((p) => [p.line, p.column])).toEqual(expected.map(([l, c]) => [l, c]));
  problems.forEach((problem, i) => {
    expect(problem.message).toContain(expected[i]?.[2]);
  });
}

function rows(count: number): string {
  return Array.from({ length: count }, (_, i) => `${i + 1},Item,"${A},${B}"\n`).join('');
}

async function parseFixture(name: string): Promise<CsvParseResult> {
  const bytes = await readFile(new URL(`./fixtures/csv/${name}`, import.meta.url));
  return parseText(bytes.toString('utf8').replaceAll('{base}', 'http://127.0.0.1:9'));
}

async function* generateRows(count: number): AsyncGenerator<Buffer> {
  yield Buffer.from(HEADER);

  for (let start = 1; start <= count; start += 1000) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(start + 1000, count + 1); i += 1) {
      lines.push(`${i},Product ${i},"https://img.test/${i}-1.jpg,https://img.test/${i}-2.jpg"\n`);
    }
    yield Buffer.from(lines.join(''));
    // An upload arrives over many event-loop turns; this lets the RSS sampler run meanwhile.
    await nextTurn();
  }
}

describe('parseProductCsv: header and BOM (C-01)', () => {
  it('accepts a UTF-8 BOM before an unquoted header', async () => {
    const result = await parseChunks([BOM, `${CSV_COLUMNS.join(',')}\r\n${WIDGET_ROW}`]);

    expect(productsOf(result)).toEqual([WIDGET]);
  });

  it('accepts a UTF-8 BOM before a quoted header', async () => {
    const header = '"S. No.","Product Name","Input Image Urls"\r\n';

    const result = await parseChunks([BOM, header + WIDGET_ROW]);

    expect(productsOf(result)).toEqual([WIDGET]);
  });

  it('accepts a BOM that arrives split over three chunks', async () => {
    const bomBytes = [BOM.subarray(0, 1), BOM.subarray(1, 2), BOM.subarray(2)];

    const result = await parseChunks([
      ...bomBytes,
      `"S. No.",Product Name,Input Image Urls\r\n`,
      WIDGET_ROW,
    ]);

    expect(productsOf(result)).toEqual([WIDGET]);
  });

  it('matches header names whatever their spacing and capitals', async () => {
    const result = await parseText(` S. No. , product name ,INPUT IMAGE URLS\r\n${WIDGET_ROW}`);

    expect(productsOf(result)).toEqual([WIDGET]);
  });

  it.each(['S.No.', 'S No', 'Serial Number', 'S.No', 'S No.', 'serial   NUMBER'])(
    'accepts %j as the name of the S. No. column',
    async (alias) => {
      const result = await parseText(`${alias},Product Name,Input Image Urls\r\n${WIDGET_ROW}`);

      expect(productsOf(result)).toEqual([WIDGET]);
    },
  );

  it('accepts the columns in any order and ignores unknown ones', async () => {
    const text = `Notes,Input Image Urls,Product Name,S. No.\nfragile,"${A},${B}",Widget A,1\n`;

    const result = await parseText(text);

    expect(productsOf(result)).toEqual([WIDGET]);
  });
});

describe('parseProductCsv: record boundaries (C-02)', () => {
  it('reads C-02 as one product whose name has its line break turned into a space', async () => {
    const result = await parseText(C02_INPUT);

    expect(productsOf(result)).toEqual([
      { serialNumber: 1, name: 'Shirt, Blue XL', imageUrls: [A, B], line: 2 },
    ]);
  });

  it('reads C-02 the same when chunks split a quoted field and both kinds of CRLF', async () => {
    const cuts = [
      C02_INPUT.indexOf('Blue'),
      C02_INPUT.indexOf(`\r\n${B}`) + 1,
      C02_INPUT.indexOf(`"\r\n\r\n`) + 2,
    ];
    const chunks = [0, ...cuts].map((start, i) => C02_INPUT.slice(start, cuts[i]));

    const result = await parseChunks(chunks);

    expect(productsOf(result)).toEqual(productsOf(await parseText(C02_INPUT)));
  });

  it('decodes a BOM and multi-byte characters fed one byte at a time', async () => {
    const bytes = Buffer.concat([BOM, Buffer.from(`${CRLF_HEADER}1,Café Crème,${A}\r\n`)]);

    const result = await parseChunks([...bytes].map((byte) => Buffer.from([byte])));

    expect(productsOf(result).map((p) => p.name)).toEqual(['Café Crème']);
  });

  it('keeps commas inside a quoted name', async () => {
    const result = await parseText(`${HEADER}1,"Table, Oak, Large",${A}\n`);

    expect(productsOf(result)[0]?.name).toBe('Table, Oak, Large');
  });

  it('reads CRLF line endings without leaving a carriage return in any value', async () => {
    const result = await parseText(`${CRLF_HEADER}1,Chair,${A}\r\n2,Stool,${B}\r\n`);

    expect(productsOf(result).map((p) => [p.name, p.imageUrls])).toEqual([
      ['Chair', [A]],
      ['Stool', [B]],
    ]);
  });

  it('reads a file that mixes LF and CRLF line endings', async () => {
    const result = await parseText(`${HEADER}1,Chair,${A}\r\n2,Stool,"${B}"\n`);

    expect(productsOf(result).map((p) => p.imageUrls)).toEqual([[A], [B]]);
  });

  it('skips blank, whitespace-only and comma-only rows silently while counting their lines', async () => {
    const result = await parseText(`${HEADER}\n1,Chair,${A}\n\n   \n,,\n , , \n2,Stool,${B}\n\n`);

    expect(productsOf(result).map((p) => p.line)).toEqual([3, 8]);
  });

  it('counts a CRLF inside a quoted value as one line when numbering later rows', async () => {
    const result = await parseText(`${CRLF_HEADER}1,"Shirt\r\nXL",${A}\r\n2,,${B}\r\n`);

    expectProblems(result, [[4, 'Product Name', 'Product Name is empty']]);
  });

  it('trims stray whitespace around every value', async () => {
    const result = await parseText(`${HEADER}  7 ,  Widget \t A ," ${A} ,  ${B}  "\n`);

    expect(productsOf(result)).toEqual([{ ...WIDGET, serialNumber: 7 }]);
  });

  it('ignores empty cells beyond the last header column', async () => {
    const result = await parseText(`${HEADER}1,Chair,${A},,\n`);

    expect(productsOf(result)).toHaveLength(1);
  });
});

describe('parseProductCsv: values', () => {
  it('stores each URL exactly as written, not re-serialised', async () => {
    const url = 'HTTPS://IMG.test:443/Photo One.JPG?b=2&a=1';

    const result = await parseText(`${HEADER}1,Chair,"${url}"\n`);

    expect(productsOf(result)[0]?.imageUrls).toEqual([url]);
  });

  it('counts an emoji as one character against maxNameLength', async () => {
    const result = await parseText(`${HEADER}1,${'🪑'.repeat(10)},${A}\n`, { maxNameLength: 10 });

    expect(productsOf(result)[0]?.name).toBe('🪑'.repeat(10));
  });

  it('returns the total image count of a valid file', async () => {
    const result = await parseText(HEADER + rows(3));

    expect(result).toMatchObject({ ok: true, imageCount: 6 });
  });

  it.each([
    ['x', 'S. No. must be a positive whole number, got "x"'],
    ['-3', 'S. No. must be a positive whole number, got "-3"'],
    ['1.5', 'S. No. must be a positive whole number, got "1.5"'],
    ['0', 'S. No. must be 1 or more, got "0"'],
    ['2147483648', 'S. No. must be at most 2147483647, got "2147483648"'],
    ['', 'S. No. is empty; expected a positive whole number such as 1'],
  ])('rejects the serial number %j', async (serial, message) => {
    const result = await parseText(`${HEADER}${serial},Chair,${A}\n`);

    expect(problemsOf(result)).toEqual([{ line: 2, column: 'S. No.', message }]);
  });

  it.each([
    ['not a url', 'Image URL "not a url" is not a valid URL'],
    ['img.test/a.jpg', 'Image URL "img.test/a.jpg" is not a valid URL'],
    [
      'ftp://img.test/a.jpg',
      'Image URL "ftp://img.test/a.jpg" must start with http:// or https://',
    ],
    ['', 'Input Image Urls is empty; expected at least one http or https URL'],
    ['" , ,"', 'Input Image Urls is empty; expected at least one http or https URL'],
    [`"${A}\n${B}"`, 'contains a line break or control character; separate URLs with commas'],
  ])('rejects the image URL cell %j', async (cell, message) => {
    const result = await parseText(`${HEADER}1,Chair,${cell}\n`);

    expectProblems(result, [[2, 'Input Image Urls', message]]);
  });
});

describe('parseProductCsv: problems', () => {
  it.each<[string, string, Partial<CsvLimits>, ExpectedProblem[]]>([
    [
      'reports a missing column once, on line 1, listing the expected headers',
      `S. No.,Name,Input Image Urls\n1,Chair,${A}\n`,
      {},
      [
        [
          1,
          null,
          'missing the column Product Name. Expected the headers "S. No.", "Product Name", "Input Image Urls"',
        ],
      ],
    ],
    [
      'reports a header that names the same column twice',
      `S. No.,Serial Number,Product Name,Input Image Urls\n1,1,Chair,${A}\n`,
      {},
      [[1, null, 'more than one S. No. column ("S. No." and "Serial Number")']],
    ],
    [
      'reports a header-only file as having no product rows',
      `${HEADER}\n\n`,
      {},
      [[1, null, 'no product rows']],
    ],
    [
      'names the line of the first occurrence when a serial number repeats',
      `${HEADER}1,Chair,${A}\n2,Stool,${A}\n1,Bench,${B}\n`,
      {},
      [[4, 'S. No.', 'S. No. 1 is already used on line 2']],
    ],
    [
      'reports an empty name',
      `${HEADER}1,"  \n ",${A}\n`,
      {},
      [[2, 'Product Name', 'Product Name is empty']],
    ],
    [
      'reports a name longer than maxNameLength characters',
      `${HEADER}1,Eleven long,${A}\n`,
      { maxNameLength: 10 },
      [[2, 'Product Name', 'Product Name is 11 characters long; the limit is 10']],
    ],
    [
      'reports a URL longer than maxUrlLength characters',
      `${HEADER}1,Chair,${A}\n`,
      { maxUrlLength: 21 },
      [[2, 'Input Image Urls', `Image URL "${A}" is 22 characters long; the limit is 21`]],
    ],
    [
      'reports a row with more URLs than maxUrlsPerRow',
      `${HEADER}1,Chair,"${A},${B},${A}"\n`,
      { maxUrlsPerRow: 2 },
      [[2, 'Input Image Urls', 'This product has 3 image URLs; the limit is 2 per product']],
    ],
    [
      'reports a row with more values than the header, as an unquoted URL list gives',
      `${HEADER}1,Chair,${A},${B}\n`,
      {},
      [[2, null, 'put double quotes around any value that contains a comma']],
    ],
    [
      'reports each required cell missing from a short row',
      `${HEADER}1\n`,
      {},
      [
        [2, 'Product Name', 'Product Name is missing'],
        [2, 'Input Image Urls', 'Input Image Urls is missing'],
      ],
    ],
    [
      'reports exceeding maxRows once, on the first row over the limit',
      HEADER + rows(4),
      { maxRows: 2 },
      [[4, null, 'more than 2 product rows; the limit is 2 per file']],
    ],
    [
      'keeps listing other problems after the row limit is exceeded',
      `${HEADER}${rows(3)}x,Late,${A}\n`,
      { maxRows: 2 },
      [
        [4, null, 'more than 2 product rows'],
        [5, 'S. No.', 'got "x"'],
      ],
    ],
    [
      'reports exceeding maxImages once, on the row that crosses the limit',
      HEADER + rows(3),
      { maxImages: 3 },
      [[3, 'Input Image Urls', 'more than 3 image URLs in total; the limit is 3 per file']],
    ],
    [
      'reports a stray quote inside an unquoted value instead of throwing',
      `${HEADER}1,Chair,${A}\n2,Lamp 12" Arc,${B}\n`,
      {},
      [
        [
          3,
          'Product Name',
          'A double quote (") appears inside a value that does not start with one',
        ],
      ],
    ],
    [
      'reports a space before an opening quote as malformed quoting',
      `${HEADER}1, "Chair",${A}\n`,
      {},
      [[2, 'Product Name', 'A double quote (") appears inside a value']],
    ],
    [
      'reports an unclosed quote on the line where its row starts',
      `${HEADER}1,Chair,${A}\n2,"Stool,${B}\n3,Bench,${A}\n`,
      {},
      [[3, 'Product Name', 'is never closed']],
    ],
    [
      'reports an unclosed quote that would swallow over a megabyte as a row too long',
      `${HEADER}1,Chair,${A}\n2,"Stool,${B}\n${`3,Bench,${A}\n`.repeat(40_000)}`,
      {},
      [[3, 'Product Name', 'too long to be a product row']],
    ],
    [
      'keeps the problems found before the quoting broke',
      `${HEADER}x,Chair,${A}\n2,St"ool,${B}\n`,
      {},
      [
        [2, 'S. No.', 'got "x"'],
        [3, 'Product Name', 'A double quote'],
      ],
    ],
  ])('%s', async (_, text, limits, expected) => {
    const result = await parseText(text, limits);

    expectProblems(result, expected);
  });

  it.each([
    ['no bytes at all', ''],
    ['only whitespace', '  \r\n\t\n'],
    ['only a BOM', '\uFEFF'],
  ])('reports a file with %s as empty', async (_, text) => {
    const result = await parseText(text);

    expectProblems(result, [[1, null, 'The file is empty.']]);
  });

  it('lists 1000 problems and then one saying how many more were left out', async () => {
    const badRows = Array.from({ length: 1500 }, () => `x,Chair,${A}\n`).join('');

    const problems = problemsOf(await parseText(HEADER + badRows, { maxRows: 2000 }));

    expect(problems).toHaveLength(1001);
    expect(problems[1000]).toMatchObject({ line: 1002, column: null });
    expect(problems[1000]?.message).toMatch(/^500 more problems were not listed/);
  });

  it('rethrows the input stream’s own error unchanged', async () => {
    const cutOff = new Error('upload cut off');
    async function* truncatedUpload(): AsyncGenerator<Buffer> {
      yield Buffer.from(`${HEADER}1,Chair,`);
      await nextTurn();
      throw cutOff;
    }

    const parsing = parseProductCsv(Readable.from(truncatedUpload()), LIMITS);

    await expect(parsing).rejects.toBe(cutOff);
  });
});

describe('parseProductCsv: fixtures', () => {
  it('reports exactly the four problems of invalid-rows.csv', async () => {
    const result = await parseFixture('invalid-rows.csv');

    expectProblems(result, [
      [3, 'Product Name', 'Product Name is empty'],
      [4, 'S. No.', 'S. No. 2 is already used on line 3'],
      [5, 'S. No.', 'got "x"'],
      [6, 'Input Image Urls', 'must start with http:// or https://'],
    ]);
  });

  it('reads excel-export.csv with its BOM, CRLF, quoted commas and doubled quotes', async () => {
    const base = 'http://127.0.0.1:9';

    const result = await parseFixture('excel-export.csv');

    expect(productsOf(result)).toEqual([
      {
        serialNumber: 1,
        name: 'Oak Table, Large',
        imageUrls: [`${base}/photo-landscape-0.3mp.jpg`, `${base}/cmyk.jpg`],
        line: 2,
      },
      { serialNumber: 2, name: 'Lamp "Arc"', imageUrls: [`${base}/progressive.jpg`], line: 3 },
    ]);
  });

  it('reads sample.csv as ten products with seventeen images', async () => {
    const result = await parseFixture('sample.csv');

    expect(productsOf(result).map((p) => p.serialNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(result).toMatchObject({ ok: true, imageCount: 17 });
  });
});

describe('parseProductCsv: large files (C-03)', () => {
  it('parses 200,000 streamed rows while RSS grows by less than 150 MB', async () => {
    const count = 200_000;
    const limits = { ...LIMITS, maxRows: count, maxImages: 2 * count };
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    let samples = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
      samples += 1;
    }, 50);

    const parsing = parseProductCsv(Readable.from(generateRows(count)), limits);
    const result = await parsing.finally(() => {
      clearInterval(sampler);
    });

    expect(productsOf(result)).toHaveLength(count);
    expect(samples).toBeGreaterThan(0);
    expect(peak - baseline).toBeLessThan(150 * 1024 * 1024);
  });
});
