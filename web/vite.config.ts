import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Builds the dashboard (index.html, Preact) and the GraphQL playground (playground.html,
 * GraphiQL on React) into web/dist, which the service serves. The two pages share no code at
 * run time, so React is only loaded by the playground.
 */
export default defineConfig({
  root,
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Monaco, which GraphiQL edits with, is large by nature; it is loaded by the playground only.
    chunkSizeWarningLimit: 5000,
    rolldownOptions: {
      input: {
        dashboard: `${root}index.html`,
        playground: `${root}playground.html`,
      },
      // GraphiQL's dependencies mark React server components with "use client", which means
      // nothing in a browser bundle.
      onLog(level, log, handler) {
        if (log.code !== 'MODULE_LEVEL_DIRECTIVE') handler(level, log);
      },
    },
  },
  worker: { format: 'es' },
});
