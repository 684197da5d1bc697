import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import type { BenchOptions } from './cli.ts';
import { profileLines, summariseProfileFile } from './cpu-profile.ts';
import type { IngestionArgs, IngestionRun } from './ingestion-types.ts';
import { PROFILES_DIR } from './results.ts';
import { ROOT, runChild } from './spawn.ts';

const URLS_PER_ROW = 3;
/** Targets by row count: seconds and peak RSS MB. */
const TARGETS = { seconds: { 10_000: 5, 100_000: 20 } as Record<number, number>, rssMB: 300 };

function verdict(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}

function runLines(run: IngestionRun): string[] {
  const seconds = TARGETS.seconds[run.rows];
  const storedOk = run.productsStored === run.rows && run.imagesStored === run.urls;
  const { memory } = run;
  return [
    `ingestion rows=${run.rows} urls=${run.urls} ${run.seconds} s ${run.rowsPerSecond} rows/s` +
      ` service peakRSS ${run.peakRssMB} MB (startup ${memory.startupPeakMB} MB, upload ${memory.uploadPeakMB} MB)` +
      ` ratio to csv-parse floor ${run.ratioToParseFloor} (floor ${run.parseFloorSeconds} s)`,
    `  stored products ${run.productsStored}/${run.rows} images ${run.imagesStored}/${run.urls}: ${storedOk ? 'equal' : 'NOT equal'};` +
      ` HTTP ${run.httpStatus}${run.errors ? ` errors ${run.errors}` : ''};` +
      ` service CPU ${run.serviceCpuMs ?? '?'} ms; RSS before ${memory.rssBeforeMB} MB, after ${memory.rssAfterMB} MB` +
      (memory.peakReset ? '' : ' (the peak could not be reset: upload peak counts from start)'),
    `  targets: ${seconds ? `< ${seconds} s ${verdict(run.seconds < seconds)}` : 'no time target at this size'}, service peak < ${TARGETS.rssMB} MB ${verdict(run.peakRssMB < TARGETS.rssMB)}`,
  ];
}

/**
 * The ingestion scenario: one child per row count, each uploading a generated CSV of three URLs
 * a row to a service process of its own (bench/ingestion.ts). Prints a line per figure through
 * `print`.
 */
export async function benchIngestion(options: BenchOptions, print: (line: string) => void) {
  // The children start the compiled service: compile the sources as they are now.
  await promisify(execFile)('npm', ['run', '--silent', 'build:server'], { cwd: ROOT });
  const runs: IngestionRun[] = [];
  for (const rows of options.rows) {
    const args: IngestionArgs = { rows, urlsPerRow: URLS_PER_ROW };
    const run = await runChild<IngestionRun>('ingestion', args);
    runLines(run).forEach(print);
    runs.push(run);
  }

  if (!options.profile) return { targets: TARGETS, runs };
  const rows = Math.max(...options.rows);
  await mkdir(PROFILES_DIR, { recursive: true });
  const profileFile = path.join(PROFILES_DIR, `ingestion-${rows}.cpuprofile`);
  const args: IngestionArgs = { rows, urlsPerRow: URLS_PER_ROW, profileFile };
  const profiled = await runChild<IngestionRun>('ingestion', args);
  const summary = await summariseProfileFile(profileFile);
  print(
    `ingestion profile: one extra run, rows=${rows}, not in the figures (${profiled.seconds} s)`,
  );
  profileLines(summary).forEach(print);
  return { targets: TARGETS, runs, profile: { run: profiled, summary } };
}
