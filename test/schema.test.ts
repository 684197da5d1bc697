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

  it('the typed documents in test/generated match codegen.ts run over schema.graphql', async () => {
    const result: unknown = await generate({ ...codegenConfig, cwd: ROOT, silent: true }, false);
    const outputs = result as { content: string }[];
    const committed = await readFile(path.join(ROOT, 'test/generated/graphql.ts'), 'utf8');

    expect(outputs).toHaveLength(1);
    expect(committed, `test/generated/graphql.ts ${STALE}`).toBe(outputs[0]?.content);
  });
});
