/**
 * Writes schema.graphql from the type-graphql classes. `npm run schema` runs this and then
 * GraphQL Code Generator; the test suite fails when either output is stale.
 */
import { writeFile } from 'node:fs/promises';

import { printSchemaFile, SCHEMA_FILE } from '../graphql/schema-file.ts';

await writeFile(SCHEMA_FILE, await printSchemaFile());
console.log(`wrote ${SCHEMA_FILE}`);
