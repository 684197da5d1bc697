/**
 * Memory over a long run (case C-08): `node --import tsx bench/memory.ts [--images 2000]
 * [--concurrency 2]`.
 *
 * Starts the whole service in this process (API and worker, as `npm start` does), uploads one
 * request of `images` photos served from memory on loopback (the processing scenario's set:
 * five small JPEGs in turn and a 6 MP one in every ten), and samples this process's RSS every
 * 50 ms until the request ends. It prints the median RSS while the first quarter of the images
 * was being done and while the last quarter was, and their difference: a worker whose memory
 * reaches a plateau shows a difference near zero. Writes bench/results/memory.json.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';

import sharp from 'sharp';

import { startPhotoServer } from './lib/photo-server.ts';
import { photoUrls } from './lib/photo-set.ts';
import { machineInfo, writeResult } from './lib/results.ts';
import { rssQuarters, sampleRss } from './lib/rss-samples.ts';
import { startFullService, waitForEnd } from './lib/service-harness.ts';
import { ROOT } from './lib/spawn.ts';
import { chunk, productCsv, sendUpload, uploadForm } from './lib/upload.ts';

/** Growth of the median RSS from the first to the last quarter that still counts as flat. */
const FLAT_MB = 50;

function options(): { images: number; concurrency: number } {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '2' },
    },
  });
  return { images: Number(values.images), concurrency: Number(values.concurrency) };
}

const { images, concurrency } = options();
const photos = await startPhotoServer(path.join(ROOT, 'test', 'fixtures', 'images'));
const service = await startFullService({ WORKER_CONCURRENCY: String(concurrency) });

let done = 0;
const started = Date.now();
const answer = await sendUpload(
  service.url,
  service.token,
  uploadForm(productCsv(chunk(photoUrls(photos.baseUrl, images, String(started)), 10))),
);
if (!answer.requestId) throw new Error(`The upload was refused: ${answer.errors}`);
const requestId = answer.requestId;
const unsubscribe = await service.app.events.subscribe(requestId, (event) => {
  done = Math.max(done, event.progress.completed + event.progress.failed);
});
const stop = sampleRss(() => done);

const status = await waitForEnd(service.app, requestId);
const samples = stop();
unsubscribe();
const seconds = (Date.now() - started) / 1000;
const request = await service.app.repositories.requests.findById(requestId);
const quarters = rssQuarters(samples, images);
const result = {
  images,
  concurrency,
  status,
  completed: request?.completedImages,
  failed: request?.failedImages,
  seconds,
  sharp: { cache: sharp.cache(), concurrency: sharp.concurrency() },
  ...quarters,
  flat: quarters.growthMb < FLAT_MB,
  machine: machineInfo(),
};
await service.stop();
await photos.close();

const mb = (value: number) => `${value.toFixed(1)} MB`;
process.stdout.write(
  [
    `images ${images} at concurrency ${concurrency}: ${status} in ${seconds.toFixed(1)} s`,
    `sharp cache items ${result.sharp.cache.items.max}, sharp threads ${result.sharp.concurrency}`,
    `median RSS, first quarter ${mb(quarters.firstQuarterMb)}, last quarter ${mb(quarters.lastQuarterMb)}`,
    `growth ${mb(quarters.growthMb)} (flat below ${FLAT_MB} MB: ${result.flat ? 'yes' : 'NO'}), ` +
      `peak ${mb(quarters.maxMb)}, ${quarters.samples} samples`,
    `written to ${await writeResult('memory', result)}`,
  ].join('\n') + '\n',
);
