/**
 * Child process of the `processing` scenario: turns the photo set into JPEGs in one mode and
 * prints what it measured. Started by `bench/run.ts`, one child per run, so that each run's peak
 * RSS is its own: `node --import tsx bench/processing.ts '<ProcessingArgs as JSON>'`.
 */
import sharp from 'sharp';

import { withCpuProfile } from './lib/inspector-profile.ts';
import { measureWindow, peakRssMB, round } from './lib/measure.ts';
import { prepareBare } from './lib/processing-bare.ts';
import { preparePipeline } from './lib/processing-pipeline.ts';
import { prepareService } from './lib/processing-service.ts';
import type { ProcessingArgs, ProcessingMode, ProcessingRun } from './lib/processing-types.ts';
import { photoUrls } from './lib/photo-set.ts';
import { childArgs, emitResult, intArg, stringArg } from './lib/protocol.ts';
import { StepTimer } from './lib/steps.ts';

/**
 * Before the measured run each mode processes at least WARM_UP_IMAGES images, unmeasured, in runs
 * of the measured size (at most WARM_UP_MAX_IMAGES images each), so the figures are those of a
 * service that has been running. Fewer were not enough: in one service process, successive
 * 120-image requests took 30.1, 26.5, 23.5, 23.4 and 23.7 ms of CPU per image, and 21.1 to
 * 22.4 from the sixth on, the upload itself falling from 241 ms to about 25. V8 was still
 * compiling the service's hot code with its optimising tier (the embedded database's
 * WebAssembly among it), a one-off of a new process rather than a cost per request. The bare
 * loop, having less code, warms up sooner; every mode gets the same warm-up all the same.
 */
const WARM_UP_IMAGES = 1_200;
const WARM_UP_MAX_IMAGES = 240;

const PREPARE = { bare: prepareBare, pipeline: preparePipeline, service: prepareService };

function readArgs(): ProcessingArgs {
  const args = childArgs();
  const mode = stringArg(args, 'mode');
  if (!(mode in PREPARE)) throw new Error(`Unknown mode ${mode}`);
  return {
    mode: mode as ProcessingMode,
    n: intArg(args, 'n'),
    concurrency: intArg(args, 'concurrency'),
    photoBaseUrl: stringArg(args, 'photoBaseUrl'),
    run: stringArg(args, 'run'),
    profileFile: typeof args.profileFile === 'string' ? args.profileFile : undefined,
  };
}

async function measure(args: ProcessingArgs): Promise<ProcessingRun> {
  const urls = photoUrls(args.photoBaseUrl, args.n, args.run);
  const steps = new StepTimer();
  const mode = await PREPARE[args.mode](urls, args.concurrency, steps);
  const warmUpSize = Math.min(args.n, WARM_UP_MAX_IMAGES);
  for (let k = 0; k < Math.ceil(WARM_UP_IMAGES / warmUpSize); k++) {
    await mode.warmUp(photoUrls(args.photoBaseUrl, warmUpSize, `${args.run}-warm-up-${k}`));
  }
  steps.reset();

  const { report } = await measureWindow(() => withCpuProfile(args.profileFile, () => mode.run()));

  const outcome = await mode.finish();
  return {
    ...args,
    ...outcome,
    seconds: round(report.seconds, 2),
    imagesPerSecond: round(args.n / report.seconds, 2),
    cpuMsPerImage: round(report.cpuMs / args.n),
    peakRssMB: Math.max(report.startupPeakRssMB, peakRssMB()),
    window: report,
    sharpConcurrency: sharp.concurrency(),
    steps: steps.summary(),
  };
}

emitResult(await measure(readArgs()));
process.exit(0);
