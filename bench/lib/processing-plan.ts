import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import type { BenchOptions } from './cli.ts';
import { profileLines, summariseProfileFile } from './cpu-profile.ts';
import { round } from './measure.ts';
import { startPhotoServer } from './photo-server.ts';
import { figuresOf, rssGrowth, sizeLines } from './processing-report.ts';
import type { SizeFigures } from './processing-report.ts';
import type { ProcessingArgs, ProcessingMode, ProcessingRun } from './processing-types.ts';
import { PROFILES_DIR } from './results.ts';
import { ROOT, deploymentNodeOptions, runChild } from './spawn.ts';

/**
 * Each size runs the modes in this order. It reads the same both ways, so a drift in machine
 * load over a size's runs falls on every mode alike.
 */
const ORDER: readonly ProcessingMode[] = [
  'bare',
  'pipeline',
  'service',
  'service',
  'pipeline',
  'bare',
];

function argsFor(
  mode: ProcessingMode,
  n: number,
  options: BenchOptions,
  baseUrl: string,
  run: string,
) {
  const args: ProcessingArgs = {
    mode,
    n,
    concurrency: options.concurrency,
    photoBaseUrl: baseUrl,
    run,
  };
  return args;
}

/**
 * Every mode runs with the V8 options of `npm run start:prod`, the bare loop too, so the ratio
 * compares the service as deployed with the same loop under the same collector settings.
 */
const CHILD_OPTIONS = { nodeArgs: deploymentNodeOptions() };

async function runSize(n: number, options: BenchOptions, baseUrl: string): Promise<SizeFigures> {
  const runs: ProcessingRun[] = [];
  const order = Array.from({ length: options.repeat }, () => ORDER).flat();
  for (const [k, mode] of order.entries()) {
    const args = argsFor(mode, n, options, baseUrl, `${n}-${k}`);
    runs.push(await runChild<ProcessingRun>('processing', args, CHILD_OPTIONS));
  }

  const of = (mode: ProcessingMode) => figuresOf(runs.filter((r) => r.mode === mode));
  const modes = { bare: of('bare'), pipeline: of('pipeline'), service: of('service') };
  const ratio = (a: ProcessingMode, b: ProcessingMode) =>
    round(modes[a].imagesPerSecond / modes[b].imagesPerSecond, 3);
  return {
    n,
    modes,
    ratio: ratio('service', 'bare'),
    pipelineToBare: ratio('pipeline', 'bare'),
    serviceToPipeline: ratio('service', 'pipeline'),
    runs,
  };
}

/** One extra service run under `--cpu-prof`, summarised; not part of the figures. */
async function profileService(n: number, options: BenchOptions, baseUrl: string) {
  await mkdir(PROFILES_DIR, { recursive: true });
  const profileFile = path.join(PROFILES_DIR, `processing-service-${n}.cpuprofile`);
  const args = { ...argsFor('service', n, options, baseUrl, `profile-${n}`), profileFile };
  const run = await runChild<ProcessingRun>('processing', args, CHILD_OPTIONS);
  return { run, summary: await summariseProfileFile(profileFile) };
}

/**
 * The processing scenario: for each size, every mode in {@link ORDER} against one loopback photo
 * server, then the service's peak-RSS growth from the smallest size to the largest. Prints a
 * line per figure through `print`.
 */
export async function benchProcessing(options: BenchOptions, print: (line: string) => void) {
  const server = await startPhotoServer(path.join(ROOT, 'test', 'fixtures', 'images'));
  try {
    const sizes: SizeFigures[] = [];
    for (const n of options.sizes) {
      const size = await runSize(n, options, server.baseUrl);
      sizeLines(size).forEach(print);
      sizes.push(size);
    }
    const growth = rssGrowth(sizes);
    growth.lines.forEach(print);

    if (!options.profile) return { order: ORDER, sizes, rssGrowth: growth };
    const n = Math.max(...options.sizes);
    const profile = await profileService(n, options, server.baseUrl);
    print(
      `processing profile: one extra service run, n=${n}, ${profile.run.imagesPerSecond} img/s, not in the figures`,
    );
    profileLines(profile.summary).forEach(print);
    return { order: ORDER, sizes, rssGrowth: growth, profile };
  } finally {
    await server.close();
  }
}
