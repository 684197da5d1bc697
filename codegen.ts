import type { CodegenConfig } from '@graphql-codegen/cli';

const typesConfig = {
  scalars: { DateTime: 'string', Upload: 'unknown' },
  enumsAsTypes: true,
  useTypeImports: true,
  avoidOptionals: { field: true, inputValue: false },
};

/**
 * Typed documents for the operations in test/graphql and the dashboard's web/src/api, checked
 * against schema.graphql. `npm run schema` regenerates them; the test suite fails when any is
 * stale. The dashboard's are plain strings, so the browser bundle carries no GraphQL parser.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  generates: {
    'test/generated/graphql.ts': {
      documents: ['test/graphql/**/*.graphql'],
      plugins: ['typescript-operations', 'typed-document-node'],
      config: typesConfig,
    },
    'web/src/generated/graphql.ts': {
      documents: ['web/src/api/**/*.graphql'],
      plugins: ['typescript-operations', 'typed-document-node'],
      config: { ...typesConfig, documentMode: 'string' },
    },
  },
};

export default config;
