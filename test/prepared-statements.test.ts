import { setTimeout as delay } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PGlite } from '../src/db/adapters.ts';
import { PGlitePreparedStatements } from '../src/db/prepared-statements.ts';

const ROW_SQL = `
  SELECT $1::uuid AS id, $2::int AS n, $3::boolean AS flag, $4::jsonb AS options,
         $5::timestamptz AS at, $6::text AS note, $7::text AS missing`;
const PARAMS = [
  '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  42,
  true,
  JSON.stringify({ quality: 50, format: 'ORIGINAL' }),
  new Date('2026-12-05T01:02:03.456Z'),
  'it\'s, "quoted"',
  null,
];

describe('prepared statements on the embedded database', () => {
  let pglite: PGlite;
  let statements: PGlitePreparedStatements;

  beforeAll(async () => {
    pglite = await PGlite.create();
    await pglite.exec('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
    statements = new PGlitePreparedStatements(pglite);
  });
  afterAll(() => pglite.close());

  it('reads rows as PGlite.query reads them: uuid and text as string, int, boolean, jsonb, Date, null', async () => {
    const first = await statements.run(ROW_SQL, PARAMS);
    const again = await statements.run(ROW_SQL, PARAMS);
    const { rows: expected } = await pglite.query(ROW_SQL, PARAMS);

    expect(first).toEqual(expected);
    expect(again).toEqual(expected);
    expect(first).toEqual([
      {
        id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
        n: 42,
        flag: true,
        options: { quality: 50, format: 'ORIGINAL' },
        at: new Date('2026-12-05T01:02:03.456Z'),
        note: 'it\'s, "quoted"',
        missing: null,
      },
    ]);
  });

  it('passes arrays as PGlite.query does: text with commas, braces, quotes and backslashes, NULL, int', async () => {
    const texts = ['a,b', '{braces}', 'say "hi"', 'back\\slash', ' spaced ', '', null, 'NULL'];
    const sql = 'SELECT $1::text[] AS texts, $2::int[] AS ints, cardinality($1::text[]) AS n';
    const params = [texts, [3, -1, 0]];

    const rows = await statements.run(sql, params);
    const { rows: expected } = await pglite.query(sql, params);

    expect(rows).toEqual(expected);
    expect(rows).toEqual([{ texts, ints: [3, -1, 0], n: texts.length }]);
  });

  it('returns the rows of a write and nothing for a write that matched none', async () => {
    const insert = 'INSERT INTO notes (id, body) VALUES ($1::int, $2::text) RETURNING id, body';
    const update = 'UPDATE notes SET body = $2::text WHERE id = $1::int RETURNING id';

    expect(await statements.run(insert, [1, 'one'])).toEqual([{ id: 1, body: 'one' }]);
    expect(await statements.run(update, [999, 'none'])).toEqual([]);
  });

  it('throws the database error for parameters the statement refuses, and runs it afterwards', async () => {
    const text = 'SELECT $1::uuid AS id';

    await expect(statements.run(text, ['not-a-uuid'])).rejects.toThrow(
      /invalid input syntax for type uuid: "not-a-uuid"/,
    );
    await expect(statements.run(text, ['not-a-uuid'])).rejects.toThrow(/invalid input syntax/);
    expect(await statements.run(text, [PARAMS[0]])).toEqual([{ id: PARAMS[0] }]);
  });

  it('throws for a statement that does not parse, and the next statement runs', async () => {
    await expect(statements.run('SELEC 1', [])).rejects.toThrow(/syntax error/);

    expect(await statements.run('SELECT 1 AS one', [])).toEqual([{ one: 1 }]);
  });

  it('prepares a statement again after the session dropped it (DEALLOCATE ALL)', async () => {
    const text = 'SELECT $1::int + 1 AS next';
    expect(await statements.run(text, [1])).toEqual([{ next: 2 }]);

    await pglite.query('DEALLOCATE ALL');

    expect(await statements.run(text, [2])).toEqual([{ next: 3 }]);
  });

  it('keeps the statements of two instances on one database apart', async () => {
    const other = new PGlitePreparedStatements(pglite);

    expect(await statements.run('SELECT $1::text AS mine', ['a'])).toEqual([{ mine: 'a' }]);
    expect(await other.run('SELECT 7 AS theirs', [])).toEqual([{ theirs: 7 }]);
    expect(await statements.run('SELECT $1::text AS mine', ['b'])).toEqual([{ mine: 'b' }]);
  });

  it('waits for an open transaction to end instead of running inside it', async () => {
    const insert = 'INSERT INTO notes (id, body) VALUES ($1::int, $2::text)';
    let outside: Promise<unknown> | undefined;

    await pglite.transaction(async (tx) => {
      await tx.query('INSERT INTO notes (id, body) VALUES (10, $1)', ['rolled back']);
      outside = statements.run(insert, [11, 'kept']);
      await delay(50);
      await tx.rollback();
    });
    await outside;
    const { rows } = await pglite.query('SELECT id FROM notes WHERE id IN (10, 11) ORDER BY id');

    expect(rows).toEqual([{ id: 11 }]);
  });
});
