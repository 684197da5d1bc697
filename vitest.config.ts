import os from 'node:os';
import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (`main`) and ESM (`module`) builds. Node loads the CJS one for
    // type-graphql; Vite would pick the ESM one for our files, and two copies of graphql in one
    // process refuse each other's types. Pointing every import at Node's choice keeps one copy.
    alias: [{ find: /^graphql$/, replacement: fileURLToPath(import.meta.resolve('graphql')) }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Test files spend much of their time waiting on sockets, child processes and databases,
    // so one per core keeps the machine busy (vitest's default leaves a core idle).
    maxWorkers: os.availableParallelism(),
    reporters: ['default'],
  },
});
