import path from 'node:path';

import type { BenchOptions } from './cli.ts';
import { round } from './measure.ts';
import { startPhotoServer } from './photo-server.ts';
import type { ProcessingArgs, ProcessingMode, ProcessingRun } from './processing-types.ts';
import { ROOT, runChild } from './spawn.ts';
import { median } from './stats.ts';

/** Per concurrency, in this order, so load drift falls on both modes alike. */
const ORDER: readonly ProcessingMode[] = ['bare', 'service', 'service', 'bare'];

/** Throughput of both modes at one concurrency: medians of their runs. */
export interface SweepPoint {
  concurrency: number;
  bare: number;
  service: number;
  ratio: number;
  cpuMsPerImage: { bare: number; service: number };
}

/**
 * The `concurrency` sweep: the processing scenario's `bare` and `service` modes at each of
 * `options.sweep` concurrencies, `options.sweepImages` images a run. Its JSON feeds the chart
 * of throughput against concurrency (`npm run bench:chart`).
 */
export async function benchConcurrency(options: BenchOptions, print: (line: string) => void) {
  const server = await startPhotoServer(path.join(ROOT, 'test', 'fixtures', 'images'));
  try {
    const points: SweepPoint[] = [];
    for (const concurrency of options.sweep) {
      const runs: ProcessingRun[] = [];
      const order = Array.from({ length: options.repeat }, () => ORDER).flat();
      for (const [k, mode] of order.entries()) {
        const args: ProcessingArgs = {
          mode,
          n: options.sweepImages,
          concurrency,
          photoBaseUrl: server.baseUrl,
          run: `sweep-${concurrency}-${k}`,
        };
        runs.push(await runChild<ProcessingRun>('processing', args));
      }
      const of = (mode: ProcessingMode, pick: (r: ProcessingRun) => number) =>
        round(median(runs.filter((r) => r.mode === mode).map(pick)), 2);
      const bare = of('bare', (r) => r.imagesPerSecond);
      const service = of('service', (r) => r.imagesPerSecond);
      const point: SweepPoint = {
        concurrency,
        bare,
        service,
        ratio: round(service / bare, 3),
        cpuMsPerImage: {
          bare: of('bare', (r) => r.cpuMsPerImage),
          service: of('service', (r) => r.cpuMsPerImage),
        },
      };
      print(
        `concurrency ${concurrency} n=${options.sweepImages}: service ${service} img/s bare ${bare} img/s` +
          ` ratio ${point.ratio.toFixed(2)} cpu/img service ${point.cpuMsPerImage.service} ms bare ${point.cpuMsPerImage.bare} ms`,
      );
      points.push(point);
    }
    return { images: options.sweepImages, points };
  } finally {
    await server.close();
  }
}
