import { round } from './measure.ts';
import type { CpuByKind, ScalingRun } from './scaling-types.ts';
import { median } from './stats.ts';

/** The ratio of two workers' throughput to one's that issue 7 asks for. */
export const SCALING_TARGET = 1.6;

const KINDS = [
  'workers',
  'api',
  'postgres',
  'postgresShared',
  'redis',
  'bench',
  'photoServer',
] as const satisfies readonly (keyof CpuByKind)[];

/** One worker count's figures: medians of its runs. */
export interface WorkersFigures {
  workers: number;
  imagesPerSecond: number;
  perRunImagesPerSecond: number[];
  /** CPU ms per image of each kind of process; null where it could not be read. */
  cpuMsPerImage: Record<keyof CpuByKind, number | null>;
  /** Every kind added up, and as cores kept busy over the window. */
  totalCpuMsPerImage: number;
  coresBusy: number;
  /** The whole machine's busy cores over the window, other users' work included. */
  machineCoresBusy: number;
  loadAverages: number[];
  completed: number;
  failed: number;
  storedFiles: number;
  everyOutputKept: boolean;
}

const sumOf = (cpu: CpuByKind) => KINDS.reduce((total, kind) => total + (cpu[kind] ?? 0), 0);

function perImage(runs: ScalingRun[], kind: keyof CpuByKind): number | null {
  const values = runs.map((r) => r.cpuMs[kind]);
  if (values.some((v) => v === null)) return null;
  return round(median(runs.map((r) => (r.cpuMs[kind] ?? 0) / r.n)), 2);
}

/** The figures of the runs with one worker count. */
export function workersFigures(runs: ScalingRun[]): WorkersFigures {
  const total = (pick: (r: ScalingRun) => number) => runs.reduce((a, r) => a + pick(r), 0);
  const cores = (ms: (r: ScalingRun) => number) =>
    round(median(runs.map((r) => ms(r) / (r.seconds * 1000))), 2);
  return {
    workers: runs[0]?.workers ?? 0,
    imagesPerSecond: round(median(runs.map((r) => r.imagesPerSecond)), 2),
    perRunImagesPerSecond: runs.map((r) => r.imagesPerSecond),
    cpuMsPerImage: Object.fromEntries(KINDS.map((k) => [k, perImage(runs, k)])) as Record<
      keyof CpuByKind,
      number | null
    >,
    totalCpuMsPerImage: round(median(runs.map((r) => sumOf(r.cpuMs) / r.n)), 2),
    coresBusy: cores((r) => sumOf(r.cpuMs)),
    machineCoresBusy: cores((r) => r.machineCpuMs),
    loadAverages: runs.map((r) => r.loadAverage[0] ?? 0),
    completed: total((r) => r.completed),
    failed: total((r) => r.failed),
    storedFiles: total((r) => r.storedFiles),
    everyOutputKept: runs.every((r) => r.storedFiles === r.completed && r.completed === r.n),
  };
}

const LABELS: Record<keyof CpuByKind, string> = {
  workers: 'workers',
  api: 'api',
  postgres: 'postgres (this run)',
  postgresShared: 'postgres (shared helpers)',
  redis: 'redis (shared)',
  bench: 'bench',
  photoServer: 'photo server',
};

function cpuLine(f: WorkersFigures): string {
  const parts = KINDS.map((k) => `${LABELS[k]} ${f.cpuMsPerImage[k] ?? 'n/a'}`);
  return (
    `  ${f.workers} worker${f.workers > 1 ? 's' : ''} cpu ms/img: ${parts.join(', ')};` +
    ` total ${f.totalCpuMsPerImage} = ${f.coresBusy} cores busy; machine ${f.machineCoresBusy} cores busy`
  );
}

/** The terminal lines of the scenario. */
export function scalingLines(
  n: number,
  one: WorkersFigures,
  two: WorkersFigures,
  ratio: number,
): string[] {
  const met = ratio >= SCALING_TARGET ? 'met' : 'NOT met';
  const kept = one.everyOutputKept && two.everyOutputKept;
  return [
    `scaling n=${n} (1 API, WORKER_CONCURRENCY=1, VIPS_CONCURRENCY=1, files in one shared DATA_DIR):` +
      ` 1 worker ${one.imagesPerSecond} img/s, 2 workers ${two.imagesPerSecond} img/s,` +
      ` ratio 2÷1 ${ratio.toFixed(2)} (target >= ${SCALING_TARGET}: ${met})`,
    `  runs img/s 1 worker ${one.perRunImagesPerSecond.join(', ')}; 2 workers ${two.perRunImagesPerSecond.join(', ')};` +
      ` load average (1 min) at each run's end 1 worker ${one.loadAverages.join(', ')}; 2 workers ${two.loadAverages.join(', ')}`,
    cpuLine(one),
    cpuLine(two),
    `  every output kept: stored files ${one.storedFiles + two.storedFiles} = completed ${one.completed + two.completed}:` +
      ` ${kept ? 'yes' : 'NO'}; failed ${one.failed + two.failed}`,
  ];
}
