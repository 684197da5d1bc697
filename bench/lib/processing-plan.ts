import path from 'node:path';

import type { BenchOptions } from './cli.ts';
import { profileLines, summariseProfileDir } from './cpu-profile.ts';
import type { ProfileSummary } from './cpu-profile.ts';
import { round } from './measure.ts';
import { startPhotoServer } from './photo-server.ts';
import type { ProcessingArgs, ProcessingMode, ProcessingRun } from './processing-types.ts';
import { RESULTS_DIR } from './results.ts';
import { ROOT, runChild } from './spawn.ts';
import { stepLine } from './step-report.ts';

/** Each size runs the modes in this order, so drift in machine load falls on both alike. */
const ORDER: readonly ProcessingMode[] = ['bare', 'service', 'service', 'bare'];
const RATIO_TARGET = 0.9;
const RSS_GROWTH_TARGET = 1.2;

/** One mode's figures at one size: means of its runs, except the peak RSS (the highest). */
export interface ModeFigures {
  imagesPerSecond: number;
  perRunImagesPerSecond: number[];
  cpuMsPerImage: number;
  /** Highest lifetime peak RSS of the runs (startup included). */
  peakRssMB: number;
  /** Highest peak RSS inside the measured windows. */
  windowPeakRssMB: number;
  completed: number;
  failed: number;
  storedFiles: number;
  everyOutputKept: boolean;
}

/** Both modes at one size. */
export interface SizeFigures {
  n: number;
  service: ModeFigures;
  bare: ModeFigures;
  /** service images/s over bare images/s. */
  ratio: number;
  runs: ProcessingRun[];
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

function figuresOf(runs: ProcessingRun[]): ModeFigures {
  const sum = (pick: (r: ProcessingRun) => number) => runs.reduce((a, r) => a + pick(r), 0);
  return {
    imagesPerSecond: round(mean(runs.map((r) => r.imagesPerSecond)), 2),
    perRunImagesPerSecond: runs.map((r) => r.imagesPerSecond),
    cpuMsPerImage: round(mean(runs.map((r) => r.cpuMsPerImage))),
    peakRssMB: Math.max(...runs.map((r) => r.peakRssMB)),
    windowPeakRssMB: Math.max(...runs.map((r) => r.window.windowPeakRssMB)),
    completed: sum((r) => r.completed),
    failed: sum((r) => r.failed),
    storedFiles: sum((r) => r.storedFiles),
    everyOutputKept: runs.every((r) => r.storedFiles === r.completed && r.completed === r.n),
  };
}

async function runSize(n: number, options: BenchOptions, baseUrl: string): Promise<SizeFigures> {
  const runs: ProcessingRun[] = [];
  for (const [k, mode] of ORDER.entries()) {
    const args: ProcessingArgs = {
      mode,
      n,
      concurrency: options.concurrency,
      photoBaseUrl: baseUrl,
      run: `${n}-${k}`,
    };
    runs.push(await runChild<ProcessingRun>('processing', args));
  }

  const service = figuresOf(runs.filter((r) => r.mode === 'service'));
  const bare = figuresOf(runs.filter((r) => r.mode === 'bare'));
  const ratio = round(service.imagesPerSecond / bare.imagesPerSecond, 3);
  return { n, service, bare, ratio, runs };
}

function sizeLines(size: SizeFigures): string[] {
  const { n, service: s, bare: b } = size;
  const kept = `stored files ${s.storedFiles} = completed ${s.completed}: ${s.everyOutputKept ? 'yes' : 'NO'}`;
  return [
    `processing n=${n} service ${s.imagesPerSecond} img/s bare ${b.imagesPerSecond} img/s ratio ${size.ratio.toFixed(2)}` +
      ` cpu/img service ${s.cpuMsPerImage} ms bare ${b.cpuMsPerImage} ms` +
      ` peakRSS service ${s.peakRssMB} MB bare ${b.peakRssMB} MB`,
    `  peakRSS inside the measured window service ${s.windowPeakRssMB} MB bare ${b.windowPeakRssMB} MB`,
    `  runs img/s service ${s.perRunImagesPerSecond.join(', ')} bare ${b.perRunImagesPerSecond.join(', ')};` +
      ` ratio target >= ${RATIO_TARGET}: ${size.ratio >= RATIO_TARGET ? 'met' : 'NOT met'}; ${kept}; failed ${s.failed}`,
    ...size.runs
      .filter((r) => r.mode === 'service')
      .slice(0, 1)
      .map((r) => stepLine(r)),
    ...size.runs
      .filter((r) => r.mode === 'bare')
      .slice(0, 1)
      .map((r) => stepLine(r)),
  ];
}

async function profileService(n: number, options: BenchOptions, baseUrl: string) {
  const dir = path.join(RESULTS_DIR, 'profiles', `processing-service-${n}-${Date.now()}`);
  const args: ProcessingArgs = {
    mode: 'service',
    n,
    concurrency: options.concurrency,
    photoBaseUrl: baseUrl,
    run: `profile-${n}`,
  };
  const run = await runChild<ProcessingRun>('processing', args, { cpuProfileDir: dir });
  return { run, summary: await summariseProfileDir(dir) };
}

/**
 * The processing scenario: for each size, bare and service runs in alternating order against
 * one loopback photo server, then the service's peak-RSS growth from the smallest size to the
 * largest. Prints a line per figure through `print`.
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

    let profile: { run: ProcessingRun; summary: ProfileSummary } | undefined;
    if (options.profile) {
      const n = Math.max(...options.sizes);
      profile = await profileService(n, options, server.baseUrl);
      print(`processing profile: one extra service run, n=${n}, not in the figures`);
      profileLines(profile.summary).forEach(print);
    }
    return { order: ORDER, photosServed: server.served(), sizes, rssGrowth: growth, profile };
  } finally {
    await server.close();
  }
}

/** The service's peak RSS at the largest size over the smallest: lifetime and window alone. */
function rssGrowth(sizes: SizeFigures[]) {
  const first = sizes[0];
  const last = sizes.at(-1);
  if (!first || !last || first === last) {
    return { ratio: null, windowRatio: null, lines: ['processing: one size only'] };
  }
  const ratio = round(last.service.peakRssMB / first.service.peakRssMB, 3);
  const windowRatio = round(last.service.windowPeakRssMB / first.service.windowPeakRssMB, 3);
  const verdict = (r: number) => (r <= RSS_GROWTH_TARGET ? 'met' : 'NOT met');
  const sizesText = `n=${last.n} / n=${first.n}`;
  return {
    ratio,
    windowRatio,
    lines: [
      `processing service peakRSS ${sizesText} = ${last.service.peakRssMB} / ${first.service.peakRssMB} MB = ${ratio.toFixed(2)} (target <= ${RSS_GROWTH_TARGET}: ${verdict(ratio)})`,
      `processing service window peakRSS ${sizesText} = ${last.service.windowPeakRssMB} / ${first.service.windowPeakRssMB} MB = ${windowRatio.toFixed(2)} (${verdict(windowRatio)})`,
    ],
  };
}
