import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import type { BenchOptions } from './cli.ts';
import { runChild } from './spawn.ts';

interface StageMemory {
  stage: string;
  rssMB: number;
  peakRssMB: number;
  heapUsedMB: number;
  externalMB: number;
  arrayBuffersMB: number;
}

interface StartupRun {
  phase: string;
  stages: StageMemory[];
  gcExposed: boolean;
}

function stageLine(phase: string, s: StageMemory): string {
  return (
    `startup ${phase}: ${s.stage}: rss ${s.rssMB} MB peak ${s.peakRssMB} MB` +
    ` heap ${s.heapUsedMB} MB external ${s.externalMB} MB arrayBuffers ${s.arrayBuffersMB} MB`
  );
}

/**
 * The `startup` diagnostic: memory of the embedded database and API before any work, on a new
 * data directory and again on the one it left. Explains the lifetime peak RSS of the other
 * scenarios; it has no baseline and no target.
 */
export async function benchStartup(_options: BenchOptions, print: (line: string) => void) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'image-pipeline-bench-startup-'));
  try {
    const runs: StartupRun[] = [];
    for (const phase of ['fresh', 'reopen']) {
      const run = await runChild<StartupRun>(
        'startup',
        { phase, dataDir },
        { nodeArgs: ['--expose-gc'] },
      );
      run.stages.forEach((s) => {
        print(stageLine(phase, s));
      });
      runs.push(run);
    }
    return { runs };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
