/** What the runner asks one ingestion child to do. */
export interface IngestionArgs {
  rows: number;
  urlsPerRow: number;
  /** Profiles the service into this `.cpuprofile` file (an extra run, not a figure). */
  profileFile?: string;
}

/** The service process's memory around the upload, from /proc (MB). */
export interface ServiceMemory {
  /** Peak RSS from the service's start to the upload: modules, database, server. */
  startupPeakMB: number;
  rssBeforeMB: number;
  /** Peak RSS during the upload alone, when the peak could be reset (else since start). */
  uploadPeakMB: number;
  rssAfterMB: number;
  peakReset: boolean;
}

/** What one ingestion child measured. */
export interface IngestionRun {
  rows: number;
  urls: number;
  csvBytes: number;
  /** From the first byte of the upload sent to its answer read in full. */
  seconds: number;
  rowsPerSecond: number;
  /** The same bytes read by csv-parse alone in the bench: the floor of the upload. */
  parseFloorSeconds: number;
  /** seconds / parseFloorSeconds. */
  ratioToParseFloor: number;
  /** Peak RSS of the service process over its whole life up to the answer. */
  peakRssMB: number;
  memory: ServiceMemory;
  /** CPU time the service process spent on the upload (every thread), when /proc tells. */
  serviceCpuMs: number | null;
  httpStatus: number;
  errors: string | undefined;
  productsStored: number;
  imagesStored: number;
}
