import path from 'node:path';

import type { SoakSample } from '../soak.ts';
import type { BenchOptions } from './cli.ts';
import { round } from './measure.ts';
import { startPhotoServer } from './photo-server.ts';
import { ROOT, runChild } from './spawn.ts';
import { median } from './stats.ts';

/** Last quarter over first quarter above this counts as growth. */
const GROWTH_LIMIT = 1.1;

interface SoakRun {
  n: number;
  status: string;
  seconds: number;
  imagesPerSecond: number;
  peakRssMB: number;
  before: SoakSample;
  after: SoakSample;
  samples: SoakSample[];
}

/** Medians of the first and the last quarter of the samples, and the ratio between them. */
function quarters(samples: SoakSample[], pick: (s: SoakSample) => number) {
  const q = Math.max(1, Math.floor(samples.length / 4));
  const first = median(samples.slice(0, q).map(pick));
  const last = median(samples.slice(-q).map(pick));
  return { first, last, ratio: round(last / first, 3) };
}

/**
 * The `soak` scenario: one child processes `options.soakImages` images as one request while it
 * samples itself every 500 ms; the figures compare the last quarter of the run with the first.
 */
export async function benchSoak(options: BenchOptions, print: (line: string) => void) {
  const server = await startPhotoServer(path.join(ROOT, 'test', 'fixtures', 'images'));
  try {
    const args = {
      n: options.soakImages,
      concurrency: options.concurrency,
      photoBaseUrl: server.baseUrl,
    };
    const run = await runChild<SoakRun>('soak', args, { nodeArgs: ['--expose-gc'] });
    const rss = quarters(run.samples, (s) => s.rssMB);
    const heap = quarters(run.samples, (s) => s.heapUsedMB);
    const handles = quarters(run.samples, (s) => s.handles);
    const grew = (r: { ratio: number }) => (r.ratio <= GROWTH_LIMIT ? 'no growth' : 'GROWTH');

    print(
      `soak n=${run.n} ${run.status} in ${run.seconds} s (${run.imagesPerSecond} img/s), ${run.samples.length} samples, peakRSS ${run.peakRssMB} MB`,
    );
    print(
      `  RSS median first quarter ${rss.first} MB last quarter ${rss.last} MB ratio ${rss.ratio} (${grew(rss)});` +
        ` heap ${heap.first} -> ${heap.last} MB ratio ${heap.ratio} (${grew(heap)})`,
    );
    print(
      `  open handles median first quarter ${handles.first} last quarter ${handles.last} (${grew(handles)});` +
        ` idle before ${run.before.handles}, idle after ${run.after.handles} ${JSON.stringify(run.after.handleKinds)}`,
    );
    return { limit: GROWTH_LIMIT, rss, heap, handles, run };
  } finally {
    await server.close();
  }
}
