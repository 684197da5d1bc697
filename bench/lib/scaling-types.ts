/** What the runner asks one scaling child to do. */
export interface ScalingArgs {
  /** Worker processes (ROLE=worker, WORKER_CONCURRENCY=1, VIPS_CONCURRENCY=1). */
  workers: number;
  /** Images of the one uploaded CSV. */
  n: number;
  photoBaseUrl: string;
  /** Tag put in every URL, database name and queue prefix, so no two runs share one. */
  run: string;
  /**
   * Starts the first worker under `--cpu-prof`, writing its `.cpuprofile` files (one per thread:
   * the main thread's and tsx's loader thread's) into this folder at its exit.
   */
  profileDir?: string;
}

/**
 * The processes whose CPU a run reads, in ms over the measured window: the API and the
 * workers (every process of the kind added up), PostgreSQL's backends of the run's database and
 * its shared processes, Redis, the bench child (upload, waiting), and the runner, which serves
 * the photos. null where the process could not be read (a server on another machine).
 */
export interface CpuByKind {
  api: number;
  workers: number;
  postgres: number | null;
  postgresShared: number | null;
  redis: number | null;
  bench: number;
  photoServer: number | null;
}

/** What one scaling child measured. */
export interface ScalingRun {
  workers: number;
  n: number;
  /** Wall time from sending the upload to the request's terminal status. */
  seconds: number;
  imagesPerSecond: number;
  cpuMs: CpuByKind;
  /** Busy CPU of the whole machine (every process, other users' too) in the window. */
  machineCpuMs: number;
  /** Load average (1, 5, 15 min) at the end of the window. */
  loadAverage: number[];
  status: string;
  completed: number;
  failed: number;
  /** Output files found in the shared DATA_DIR afterwards. */
  storedFiles: number;
  /** The window on the monotonic clock, in µs, as V8 profiles time their samples. */
  windowUs: { from: number; to: number };
}
