/**
 * Child process of the `ingestion` scenario: one upload of a large CSV to the API alone (no
 * worker, so nothing competes with it), timed from the first byte sent to the answer. Started by
 * `bench/run.ts`: `node --import tsx bench/ingestion.ts '<IngestionArgs as JSON>'`.
 */
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

import { parse } from 'csv-parse';

import type { IngestionArgs, IngestionRun } from './lib/ingestion-types.ts';
import { withCpuProfile } from './lib/inspector-profile.ts';
import { heapAfterGcMB, measureWindow, peakRssMB, round, startWindow } from './lib/measure.ts';
import { childArgs, emitResult, intArg } from './lib/protocol.ts';
import type { BenchService } from './lib/service-harness.ts';
import { startApiOnly } from './lib/service-harness.ts';
import { StepTimer } from './lib/steps.ts';
import { productCsv, sendUpload, uploadForm } from './lib/upload.ts';

/** Rows of `urlsPerRow` URLs on a host that is never fetched (no worker runs). */
function generateCsv({ rows, urlsPerRow }: IngestionArgs): string {
  const urls = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: urlsPerRow }, (_, k) => `https://img.example.test/p${i + 1}-${k + 1}.jpg`),
  );
  return productCsv(urls);
}

/** Seconds csv-parse alone takes to read `csv` as a stream. */
async function parseFloor(csv: string): Promise<number> {
  const end = startWindow();
  let records = 0;
  const parser = Readable.from([Buffer.from(csv)]).pipe(parse({ bom: true }));
  parser.on('data', () => (records += 1));
  await finished(parser);
  if (records === 0) throw new Error('csv-parse read no records');
  return end().seconds;
}

async function storedCounts(service: BenchService, requestId: string | undefined) {
  if (!requestId) return { productsStored: 0, imagesStored: 0 };
  const { prisma } = service.app.db;
  return {
    productsStored: await prisma.product.count({ where: { requestId } }),
    imagesStored: await prisma.image.count({ where: { requestId } }),
  };
}

async function measure(args: IngestionArgs): Promise<IngestionRun> {
  const urls = args.rows * args.urlsPerRow;
  const service = await startApiOnly({
    MAX_CSV_ROWS: String(Math.max(args.rows, 100_000)),
    MAX_IMAGES_PER_REQUEST: String(urls),
  });
  const steps = new StepTimer();
  steps.wrap(service.app.repositories.requests, 'create', 'db.create');
  steps.wrap(service.app.queue, 'enqueue', 'queue.enqueue');
  const csv = generateCsv(args);
  const parseFloorSeconds = await parseFloor(csv);
  const form = uploadForm(csv);

  const { value: answer, report } = await measureWindow(() =>
    withCpuProfile(args.profileFile, () => sendUpload(service.url, service.token, form)),
  );

  const retainedHeapMB = heapAfterGcMB();
  const counts = await storedCounts(service, answer.requestId);
  const queueDepth = await service.app.queue.depth();
  await service.stop();
  return {
    ...args,
    urls,
    csvBytes: Buffer.byteLength(csv),
    seconds: round(report.seconds, 2),
    rowsPerSecond: Math.round(args.rows / report.seconds),
    parseFloorSeconds: round(parseFloorSeconds, 3),
    ratioToParseFloor: round(report.seconds / parseFloorSeconds),
    peakRssMB: Math.max(report.startupPeakRssMB, peakRssMB()),
    window: report,
    httpStatus: answer.httpStatus,
    errors: answer.errors,
    ...counts,
    queueDepth,
    retainedHeapMB,
    steps: steps.summary(),
  };
}

const args = childArgs();
emitResult(
  await measure({
    rows: intArg(args, 'rows'),
    urlsPerRow: intArg(args, 'urlsPerRow', 3),
    profileFile: typeof args.profileFile === 'string' ? args.profileFile : undefined,
  }),
);
process.exit(0);
