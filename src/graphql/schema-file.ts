import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { lexicographicSortSchema, printSchema } from 'graphql';

import { buildGraphQLSchema } from './schema.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');

/** schema.graphql at the project root: the committed, reviewable form of the API. */
export const SCHEMA_FILE = path.join(root, 'schema.graphql');

/** The schema as schema.graphql should read: sorted, so diffs show real changes only. */
export async function printSchemaFile(): Promise<string> {
  const schema = await buildGraphQLSchema();
  return `# Generated from src/graphql by \`npm run schema\`; do not edit.\n\n${printSchema(lexicographicSortSchema(schema))}\n`;
}
