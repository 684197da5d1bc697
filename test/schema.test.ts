import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';

import codegenConfig from '../codegen.ts';
import { printSchemaFile, SCHEMA_FILE } from '../src/graphql/schema-file.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const STALE = 'is stale: run `npm run schema` and commit the result';

describe('generated GraphQL artefacts', () => {
  it('schema.graphql matches the schema built from the resolvers', async () => {
    const committed = await readFile(SCHEMA_FILE, 'utf8');

    expect(committed, `schema.graphql ${STALE}`).toBe(await printSchemaFile());
  });

  it('the typed documents in test/generated and web/src/generated match codegen.ts', async () => {
    const result: unknown = await generate({ ...codegenConfig, cwd: ROOT, silent: true }, false);
    const outputs = result as { filename: string; content: string }[];

    expect(outputs.map((o) => o.filename).sort()).toEqual([
      'test/generated/graphql.ts',
      'web/src/generated/graphql.ts',
    ]);
    for (const output of outputs) {
      const committed = await readFile(path.join(ROOT, output.filename), 'utf8');
      expect(committed, `${output.filename} ${STALE}`).toBe(output.content);
    }
  });
});
