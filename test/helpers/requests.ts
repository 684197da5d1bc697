import { randomUUID } from 'node:crypto';

import type { RequestRepository } from '../../src/repositories/request.repository.ts';
import { resolveProcessingOptions } from '../../src/services/processing-options.ts';

/**
 * Stores a PENDING request of alice's with one product listing `urls` in order, straight
 * through the repository (no upload, nothing queued), for tests of what comes after.
 *
 * @returns the request's id and its image ids, in the order of `urls`
 */
export async function storeOneProductRequest(
  requests: RequestRepository,
  urls: readonly string[],
): Promise<{ requestId: string; imageIds: string[] }> {
  const requestId = randomUUID();
  const imageIds = urls.map(() => randomUUID());
  await requests.create(
    {
      id: requestId,
      ownerId: 'alice',
      fileName: 'products.csv',
      webhookUrl: null,
      options: resolveProcessingOptions(null, 50),
    },
    [
      {
        id: randomUUID(),
        serialNumber: 1,
        name: 'Chair',
        position: 0,
        images: urls.map((inputUrl, i) => ({ id: imageIds[i] ?? '', position: i, inputUrl })),
      },
    ],
  );
  return { requestId, imageIds };
}
