import type { WindowReport } from './measure.ts';
import type { StepTotals } from './steps.ts';

/** What the runner asks one ingestion child to do. */
export interface IngestionArgs {
  rows: number;
  urlsPerRow: number;
  /** Profiles the upload into this `.cpuprofile` file (an extra run, not a figure). */
  profileFile?: string;
}

/** What one ingestion child measured. */
export interface IngestionRun {
  rows: number;
  urls: number;
  csvBytes: number;
  /** From the first byte of the upload sent to its answer read in full. */
  seconds: number;
  rowsPerSecond: number;
  /** The same bytes read by csv-parse alone in the same child: the floor of the upload. */
  parseFloorSeconds: number;
  /** seconds / parseFloorSeconds. */
  ratioToParseFloor: number;
  /** Peak RSS of the child over its whole life (startup and the client's CSV included). */
  peakRssMB: number;
  /** Peak RSS, CPU and memory details of the upload alone. */
  window: WindowReport;
  httpStatus: number;
  errors: string | undefined;
  productsStored: number;
  imagesStored: number;
  /** JS heap in use after the upload and a full collection: what the service keeps. */
  retainedHeapMB: number | null;
  /** Image jobs waiting in the in-memory queue afterwards (no worker runs). */
  queueDepth: number;
  steps: Record<string, StepTotals>;
}
