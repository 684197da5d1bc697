import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import type { BenchOptions } from './cli.ts';
import { profileLines, summariseProfileFile } from './cpu-profile.ts';
import type { IngestionArgs, IngestionRun } from './ingestion-types.ts';
import { PROFILES_DIR } from './results.ts';
import { runChild } from './spawn.ts';

const URLS_PER_ROW = 3;
/** `--expose-gc` lets the child read the heap the upload leaves behind. */
const CHILD = { nodeArgs: ['--expose-gc'] };
/** Targets by row count: seconds and peak RSS MB. */
const TARGETS = { seconds: { 10_000: 5, 100_000: 20 } as Record<number, number>, rssMB: 300 };

function verdict(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}

function runLines(run: IngestionRun): string[] {
  const seconds = TARGETS.seconds[run.rows];
  const storedOk = run.productsStored === run.rows && run.imagesStored === run.urls;
  const db = run.steps['db.create']?.totalMs ?? 0;
  const enqueue = run.steps['queue.enqueue']?.totalMs ?? 0;
  return [
    `ingestion rows=${run.rows} urls=${run.urls} ${run.seconds} s ${run.rowsPerSecond} rows/s` +
      ` peakRSS ${run.peakRssMB} MB (startup ${run.window.startupPeakRssMB} MB, upload alone ${run.window.windowPeakRssMB} MB)` +
      ` ratio to csv-parse floor ${run.ratioToParseFloor} (floor ${run.parseFloorSeconds} s)`,
    `  stored products ${run.productsStored}/${run.rows} images ${run.imagesStored}/${run.urls}: ${storedOk ? 'equal' : 'NOT equal'};` +
      ` HTTP ${run.httpStatus}${run.errors ? ` errors ${run.errors}` : ''}; queued jobs ${run.queueDepth}`,
    `  upload ${Math.round(run.seconds * 1000)} ms of which db.create ${Math.round(db)} ms, queue.enqueue ${Math.round(enqueue)} ms,` +
      ` rest (transfer, multipart, CSV validation, GraphQL) ${Math.round(run.seconds * 1000 - db - enqueue)} ms;` +
      ` cpu ${Math.round(run.window.cpuMs)} ms; RSS before ${run.window.rssBeforeMB} MB;` +
      ` peak heap ${run.window.memory.heapUsedMB} MB external ${run.window.memory.externalMB} MB;` +
      ` heap kept after GC ${run.retainedHeapMB ?? '?'} MB; event loop delay max ${run.window.eventLoopDelay.maxMs} ms`,
    // The RSS target is the upload's: a running service's peak while it takes the file. The
    // one-time creation of a new embedded database (startup) is reported apart above.
    `  targets: < ${seconds ?? '?'} s ${seconds ? verdict(run.seconds < seconds) : 'n/a'}, < ${TARGETS.rssMB} MB during the upload ${verdict(run.window.windowPeakRssMB < TARGETS.rssMB)}`,
  ];
}

/**
 * The ingestion scenario: one child per row count, each uploading a generated CSV of three URLs
 * a row to the API alone. Prints a line per figure through `print`.
 */
export async function benchIngestion(options: BenchOptions, print: (line: string) => void) {
  const runs: IngestionRun[] = [];
  for (const rows of options.rows) {
    const args: IngestionArgs = { rows, urlsPerRow: URLS_PER_ROW };
    const run = await runChild<IngestionRun>('ingestion', args, CHILD);
    runLines(run).forEach(print);
    runs.push(run);
  }

  if (!options.profile) return { targets: TARGETS, runs };
  const rows = Math.max(...options.rows);
  await mkdir(PROFILES_DIR, { recursive: true });
  const profileFile = path.join(PROFILES_DIR, `ingestion-${rows}.cpuprofile`);
  const args: IngestionArgs = { rows, urlsPerRow: URLS_PER_ROW, profileFile };
  const profiled = await runChild<IngestionRun>('ingestion', args, CHILD);
  const summary = await summariseProfileFile(profileFile);
  print(
    `ingestion profile: one extra run, rows=${rows}, not in the figures (${profiled.seconds} s)`,
  );
  profileLines(summary).forEach(print);
  return { targets: TARGETS, runs, profile: { run: profiled, summary } };
}
