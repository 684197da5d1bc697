import { randomUUID } from 'node:crypto';

import { productsInMemory } from '../../src/csv/csv.spool.ts';
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
  await requests.create(
    {
      id: requestId,
      ownerId: 'alice',
      fileName: 'products.csv',
      webhookUrl: null,
      options: resolveProcessingOptions(null, 50),
    },
    productsInMemory([{ serialNumber: 1, name: 'Chair', imageUrls: [...urls] }]),
  );
  const { items } = await requests.listProducts(requestId, 1, null);
  return { requestId, imageIds: items[0]?.images.map((image) => image.id) ?? [] };
}
