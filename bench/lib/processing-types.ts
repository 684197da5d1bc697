import type { WindowReport } from './measure.ts';
import type { StepTotals } from './steps.ts';

/**
 * How the processing scenario turns the photo set into JPEGs: `bare` (the baseline) and
 * `service` are the measured pair; `pipeline` is a diagnostic in between.
 */
export type ProcessingMode = 'bare' | 'pipeline' | 'service';

/** What the runner asks one processing child to do. */
export interface ProcessingArgs {
  mode: ProcessingMode;
  /** Images processed. */
  n: number;
  /** Images in flight at once (the service's WORKER_CONCURRENCY). */
  concurrency: number;
  photoBaseUrl: string;
  /** Tag put in every URL so no two runs fetch the same one. */
  run: string;
  /** Profiles the measured window into this `.cpuprofile` file (an extra run, not a figure). */
  profileFile?: string;
}

/** What one processing child measured. */
export interface ProcessingRun {
  mode: ProcessingMode;
  n: number;
  concurrency: number;
  /** Wall time of the measured window: the loop (bare) or upload to terminal status (service). */
  seconds: number;
  imagesPerSecond: number;
  /** CPU time of the whole child (every thread) during the window, divided by n. */
  cpuMsPerImage: number;
  /** Peak RSS of the child over its whole life, startup included. */
  peakRssMB: number;
  /** Peak RSS, CPU and memory details of the measured window alone. */
  window: WindowReport;
  completed: number;
  failed: number;
  /** Output files found on disk afterwards. */
  storedFiles: number;
  /** Terminal status of the request (service) or `DONE` (bare, pipeline). */
  status: string;
  /** libvips threads per image, as sharp reports it in the child. */
  sharpConcurrency: number;
  /** Wall time per named step, summed over images. */
  steps: Record<string, StepTotals>;
}
