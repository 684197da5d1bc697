import type { RequestRecord } from '../domain/request.ts';
import { progressOf } from '../domain/request.ts';

/**
 * The JSON a webhook receives when a request ends. It is made once, stored with each delivery
 * and sent byte for byte on every attempt, so receivers can de-duplicate and verify it.
 */
export function completionPayload(request: RequestRecord, outputCsvUrl: string): string {
  return JSON.stringify({
    type: 'request.completed',
    timestamp: new Date().toISOString(),
    data: {
      requestId: request.id,
      status: request.status,
      progress: progressOf({
        total: request.totalImages,
        completed: request.completedImages,
        failed: request.failedImages,
      }),
      outputCsvUrl,
      completedAt: request.completedAt?.toISOString() ?? null,
    },
  });
}
