import { round } from './measure.ts';
import type { ProcessingRun } from './processing-types.ts';

/** Steps that run inside a service job; what a job spends outside them is download + transform. */
const INSIDE_JOB = [
  'db.claim',
  'db.markProcessing',
  'db.findRequest',
  'db.finishImage',
  'store.put',
  'events.publish',
  'finalize',
];

function perImage(run: ProcessingRun, step: string): number {
  return (run.steps[step]?.totalMs ?? 0) / run.n;
}

/**
 * Where one run's image time went, in wall ms per image summed over steps (with images in
 * flight at once, the steps of one image overlap other images' steps).
 */
export function stepBreakdown(run: ProcessingRun): Record<string, number> {
  if (run.mode !== 'service') {
    return Object.fromEntries(
      ['fetch', 'transform', 'store'].map((s) => [s, round(perImage(run, s), 2)]),
    );
  }

  const inside = INSIDE_JOB.map((s) => perImage(run, s));
  const job = perImage(run, 'job');
  const db = ['db.claim', 'db.markProcessing', 'db.findRequest', 'db.finishImage'];
  return {
    job: round(job, 2),
    db: round(
      db.reduce((a, s) => a + perImage(run, s), 0),
      2,
    ),
    ...Object.fromEntries(INSIDE_JOB.map((s, i) => [s, round(inside[i] ?? 0, 2)])),
    downloadAndTransform: round(job - inside.reduce((a, b) => a + b, 0), 2),
    upload: round(perImage(run, 'upload'), 2),
  };
}

/** The breakdown as one terminal line. */
export function stepLine(run: ProcessingRun): string {
  const parts = Object.entries(stepBreakdown(run)).map(([name, ms]) => `${name} ${ms}`);
  return `  ${run.mode} wall ms/img by step (n=${run.n}): ${parts.join(', ')}`;
}
