import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed documents for the operations in test/graphql, checked against schema.graphql.
 * `npm run schema` regenerates both; the test suite fails when either is stale.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/graphql/**/*.graphql'],
  generates: {
    'test/generated/graphql.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        scalars: { DateTime: 'string', Upload: 'unknown' },
        enumsAsTypes: true,
        useTypeImports: true,
        avoidOptionals: { field: true, inputValue: false },
      },
    },
  },
};

export default config;
