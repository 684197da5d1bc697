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

/** Images each mode processes, unmeasured, before the measured run: each photo of the set once. */
const WARM_UP_IMAGES = 10;

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
  await mode.warmUp(photoUrls(args.photoBaseUrl, WARM_UP_IMAGES, `${args.run}-warm-up`));
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
