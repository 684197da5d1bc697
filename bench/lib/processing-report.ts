import { round } from './measure.ts';
import type { ProcessingMode, ProcessingRun } from './processing-types.ts';
import { median } from './stats.ts';
import { stepLine } from './step-report.ts';

/** Service img/s ÷ bare img/s that processing must reach at every size. */
export const RATIO_TARGET = 0.95;
export const RSS_GROWTH_TARGET = 1.2;

/** One mode's figures at one size: medians of its runs, except peaks (the highest). */
export interface ModeFigures {
  imagesPerSecond: number;
  perRunImagesPerSecond: number[];
  cpuMsPerImage: number;
  /** Highest lifetime peak RSS of the runs (startup included). */
  peakRssMB: number;
  /** Highest peak RSS inside the measured windows. */
  windowPeakRssMB: number;
  /** Longest the main thread was unable to run a timer, highest run. */
  eventLoopDelayMaxMs: number;
  completed: number;
  failed: number;
  storedFiles: number;
  everyOutputKept: boolean;
}

/** Every mode at one size, and the ratios between them. */
export interface SizeFigures {
  n: number;
  modes: Record<ProcessingMode, ModeFigures>;
  /** service images/s over bare images/s: the figure with a target. */
  ratio: number;
  /** pipeline over bare: the service's own image code against the baseline's. */
  pipelineToBare: number;
  /** service over pipeline: what the database, queue, events and upload cost. */
  serviceToPipeline: number;
  runs: ProcessingRun[];
}

/** Figures of one mode from its runs. */
export function figuresOf(runs: ProcessingRun[]): ModeFigures {
  const sum = (pick: (r: ProcessingRun) => number) => runs.reduce((a, r) => a + pick(r), 0);
  return {
    imagesPerSecond: round(median(runs.map((r) => r.imagesPerSecond)), 2),
    perRunImagesPerSecond: runs.map((r) => r.imagesPerSecond),
    cpuMsPerImage: round(median(runs.map((r) => r.cpuMsPerImage))),
    peakRssMB: Math.max(...runs.map((r) => r.peakRssMB)),
    windowPeakRssMB: Math.max(...runs.map((r) => r.window.windowPeakRssMB)),
    eventLoopDelayMaxMs: Math.max(...runs.map((r) => r.window.eventLoopDelay.maxMs)),
    completed: sum((r) => r.completed),
    failed: sum((r) => r.failed),
    storedFiles: sum((r) => r.storedFiles),
    everyOutputKept: runs.every((r) => r.storedFiles === r.completed && r.completed === r.n),
  };
}

const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

/** The terminal lines of one size. */
export function sizeLines(size: SizeFigures): string[] {
  const { n, modes } = size;
  const { service: s, bare: b, pipeline: p } = modes;
  const firstRun = (mode: ProcessingMode) => size.runs.filter((r) => r.mode === mode).slice(0, 1);
  return [
    `processing n=${n} service ${s.imagesPerSecond} img/s bare ${b.imagesPerSecond} img/s ratio ${size.ratio.toFixed(2)}` +
      ` cpu/img service ${s.cpuMsPerImage} ms bare ${b.cpuMsPerImage} ms` +
      ` peakRSS service ${s.peakRssMB} MB bare ${b.peakRssMB} MB`,
    `  ratio target >= ${RATIO_TARGET}: ${met(size.ratio >= RATIO_TARGET)};` +
      ` runs img/s service ${s.perRunImagesPerSecond.join(', ')} bare ${b.perRunImagesPerSecond.join(', ')}`,
    `  every output kept: stored files ${s.storedFiles} = completed ${s.completed}: ${s.everyOutputKept ? 'yes' : 'NO'};` +
      ` failed ${s.failed}; peakRSS inside the window service ${s.windowPeakRssMB} MB bare ${b.windowPeakRssMB} MB;` +
      ` event loop delay max service ${s.eventLoopDelayMaxMs} ms bare ${b.eventLoopDelayMaxMs} ms`,
    `  diagnostic pipeline (service image code, no DB/queue) ${p.imagesPerSecond} img/s cpu/img ${p.cpuMsPerImage} ms:` +
      ` pipeline/bare ${size.pipelineToBare.toFixed(2)}, service/pipeline ${size.serviceToPipeline.toFixed(2)}`,
    ...(['service', 'pipeline', 'bare'] as const).flatMap(firstRun).map(stepLine),
  ];
}

/** The service's peak RSS at the largest size over the smallest: lifetime and window alone. */
export function rssGrowth(sizes: SizeFigures[]) {
  const first = sizes[0]?.modes.service;
  const last = sizes.at(-1)?.modes.service;
  if (!first || !last || sizes.length < 2) {
    return { ratio: null, windowRatio: null, lines: ['processing: one size only'] };
  }
  const ratio = round(last.peakRssMB / first.peakRssMB, 3);
  const windowRatio = round(last.windowPeakRssMB / first.windowPeakRssMB, 3);
  const sizesText = `n=${sizes.at(-1)?.n} / n=${sizes[0]?.n}`;
  return {
    ratio,
    windowRatio,
    lines: [
      `processing service peakRSS ${sizesText} = ${last.peakRssMB} / ${first.peakRssMB} MB = ${ratio.toFixed(2)}` +
        ` (target <= ${RSS_GROWTH_TARGET}: ${met(ratio <= RSS_GROWTH_TARGET)})`,
      `processing service window peakRSS ${sizesText} = ${last.windowPeakRssMB} / ${first.windowPeakRssMB} MB` +
        ` = ${windowRatio.toFixed(2)} (${met(windowRatio <= RSS_GROWTH_TARGET)})`,
    ],
  };
}
