import type { BenchOptions } from './cli.ts';

/** Placeholder until the ingestion scenario is written. */
export function benchIngestion(_options: BenchOptions, _print: (line: string) => void) {
  return Promise.resolve({});
}
