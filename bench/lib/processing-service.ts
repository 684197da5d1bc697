import type { App } from '../../src/app.ts';
import type { ModeOutcome, PreparedMode } from './processing-bare.ts';
import { countFiles, imagesDir, startFullService, waitForEnd } from './service-harness.ts';
import type { StepTimer } from './steps.ts';
import { chunk, productCsv, sendUpload, uploadForm } from './upload.ts';

/** Image URLs per product row of the uploaded CSV. */
export const IMAGES_PER_ROW = 10;

/**
 * Times the steps of every image job on this app's own instances (not the classes): the job as
 * a whole, each database call, the store, the events and the request's end. What a job spends
 * outside these is its download and its transform.
 */
function instrument(app: App, steps: StepTimer): void {
  steps.wrap(app.processor, 'handle', 'job');
  steps.wrap(app.repositories.images, 'claim', 'db.claim');
  steps.wrap(app.repositories.images, 'finish', 'db.finishImage');
  steps.wrap(app.repositories.requests, 'findById', 'db.findRequest');
  steps.wrap(app.storage, 'put', 'store.put');
  steps.wrap(app.events, 'publish', 'events.publish');
  steps.wrap(app.finalizer, 'finish', 'finalize');
}

/**
 * The real service (`startService`, worker included) on a fresh data directory. The measured
 * work is one upload of a CSV holding `urls`, from sending it to the request's terminal status.
 */
export async function prepareService(
  urls: readonly string[],
  concurrency: number,
  steps: StepTimer,
): Promise<PreparedMode> {
  const service = await startFullService({ WORKER_CONCURRENCY: String(concurrency) });
  instrument(service.app, steps);
  const form = uploadForm(productCsv(chunk(urls, IMAGES_PER_ROW)));
  let requestId = '';
  let status = 'NOT_STARTED';

  return {
    warmUp: async (warmUpUrls) => {
      const warmUpForm = uploadForm(productCsv(chunk(warmUpUrls, IMAGES_PER_ROW)));
      const answer = await sendUpload(service.url, service.token, warmUpForm);
      if (!answer.requestId) throw new Error(`The warm-up upload was refused: ${answer.errors}`);
      await waitForEnd(service.app, answer.requestId);
    },
    run: async () => {
      const answer = await steps.time('upload', () => sendUpload(service.url, service.token, form));
      if (!answer.requestId) {
        throw new Error(`The upload was refused (HTTP ${answer.httpStatus}): ${answer.errors}`);
      }
      requestId = answer.requestId;
      status = await waitForEnd(service.app, requestId);
    },
    finish: async () => {
      const outcome = await outcomeOf(service.app, requestId, status);
      const storedFiles = await countFiles(imagesDir(service, requestId));
      await service.stop();
      return { ...outcome, storedFiles };
    },
  };
}

async function outcomeOf(
  app: App,
  requestId: string,
  status: string,
): Promise<Omit<ModeOutcome, 'storedFiles'>> {
  const request = await app.repositories.requests.findById(requestId);
  if (!request) throw new Error(`No request ${requestId} after the run`);
  return { completed: request.completedImages, failed: request.failedImages, status };
}
