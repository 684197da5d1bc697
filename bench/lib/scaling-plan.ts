import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

import type { BenchOptions } from './cli.ts';
import { profileLines, summariseProfileFile } from './cpu-profile.ts';
import { round } from './measure.ts';
import { startPhotoServer } from './photo-server.ts';
import { PROFILES_DIR } from './results.ts';
import { SCALING_TARGET, scalingLines, workersFigures } from './scaling-report.ts';
import type { ScalingArgs, ScalingRun } from './scaling-types.ts';
import { productionShape } from './shape.ts';
import { ROOT, runChild } from './spawn.ts';

/** Worker processes of each run, in this order, so a drift in load falls on both counts alike. */
const ORDER: readonly number[] = [1, 2, 2, 1];

/** Why the scenario cannot run here, or undefined when it can. */
function skipReason(): string | undefined {
  const shape = productionShape();
  if (!shape.DATABASE_URL || !shape.REDIS_URL) {
    return 'it measures the production shape: set DATABASE_URL and REDIS_URL';
  }
  return undefined;
}

/**
 * One scaling child, with the runner's own CPU over its life: the runner then does nothing but
 * serve the photos (the child's output goes straight to stderr).
 */
async function runOne(args: ScalingArgs): Promise<ScalingRun> {
  const cpu = process.cpuUsage();
  const run = await runChild<ScalingRun>('scaling', args);
  const used = process.cpuUsage(cpu);
  return { ...run, cpuMs: { ...run.cpuMs, photoServer: round((used.user + used.system) / 1000) } };
}

/**
 * The main thread's profile among those `--cpu-prof` wrote: Node names them
 * `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`, the main thread being thread 0.
 */
async function mainThreadProfile(dir: string): Promise<string> {
  const name = (await readdir(dir)).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (!name) throw new Error(`No main-thread profile in ${dir}`);
  return path.join(dir, name);
}

/** One more two-worker run, its first worker under `--cpu-prof`; not part of the figures. */
async function profileRun(n: number, baseUrl: string, print: (line: string) => void) {
  const profileDir = path.join(PROFILES_DIR, 'scaling-worker');
  await rm(profileDir, { recursive: true, force: true });
  await mkdir(profileDir, { recursive: true });
  const run = await runOne({ workers: 2, n, photoBaseUrl: baseUrl, run: 'profile', profileDir });
  const summary = await summariseProfileFile(await mainThreadProfile(profileDir), run.windowUs);
  print(
    `scaling profile: one extra run, 2 workers, n=${n}, ${run.imagesPerSecond} img/s, first worker's main thread inside the window, not in the figures`,
  );
  profileLines(summary).forEach(print);
  return { run, summary };
}

/**
 * The scaling scenario: one API process and one or two worker processes of the production
 * shape (see bench/scaling.ts), {@link ORDER} repeated, one upload of `options.scalingImages`
 * photos a run. Reports each count's img/s, the ratio of two workers to one, and the CPU each
 * kind of process spent per image. Skipped, saying why, without DATABASE_URL and REDIS_URL.
 */
export async function benchScaling(options: BenchOptions, print: (line: string) => void) {
  const skipped = skipReason();
  if (skipped) {
    print(`scaling: skipped: ${skipped}`);
    return { skipped };
  }

  const server = await startPhotoServer(path.join(ROOT, 'test', 'fixtures', 'images'));
  try {
    const runs: ScalingRun[] = [];
    const order = Array.from({ length: options.repeat }, () => ORDER).flat();
    for (const [k, workers] of order.entries()) {
      const args = { workers, n: options.scalingImages, photoBaseUrl: server.baseUrl, run: `${k}` };
      runs.push(await runOne(args));
    }
    const one = workersFigures(runs.filter((r) => r.workers === 1));
    const two = workersFigures(runs.filter((r) => r.workers === 2));
    const ratio = round(two.imagesPerSecond / one.imagesPerSecond, 3);
    scalingLines(options.scalingImages, one, two, ratio).forEach(print);

    const figures = { order: ORDER, target: SCALING_TARGET, ratio, one, two, runs };
    if (!options.profile) return figures;
    return { ...figures, profile: await profileRun(options.scalingImages, server.baseUrl, print) };
  } finally {
    await server.close();
  }
}
