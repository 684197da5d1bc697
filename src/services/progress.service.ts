import { Repeater } from '@repeaterjs/repeater';

import type { ImageRecord, Progress, RequestRecord, RequestStatus } from '../domain/request.ts';
import { isTerminal, progressOf } from '../domain/request.ts';
import type { Viewer } from '../domain/viewer.ts';
import type { EventBus, ProgressEvent } from '../events/event-bus.ts';
import type { RequestService } from './request.service.ts';

/** What a subscriber receives. */
export interface ProgressUpdate {
  requestId: string;
  status: RequestStatus;
  progress: Progress;
  /** The image whose change caused this update; null for the first one and request changes. */
  image: ImageRecord | null;
}

/** @defaultValue 200 ms: at most five updates a second per subscriber. */
export const DEFAULT_MIN_INTERVAL_MS = 200;

function snapshot(request: RequestRecord): ProgressUpdate {
  const counts = {
    total: request.totalImages,
    completed: request.completedImages,
    failed: request.failedImages,
  };
  return {
    requestId: request.id,
    status: request.status,
    progress: progressOf(counts),
    image: null,
  };
}

const done = (p: Progress) => p.completed + p.failed;

/**
 * Live progress of one request: the current state at once, then each change, coalesced to at
 * most one update per `minIntervalMs` (the latest state always wins and is never dropped), and
 * the final state last, after which the stream ends.
 */
export class ProgressService {
  constructor(
    private readonly requests: RequestService,
    private readonly events: EventBus,
    private readonly minIntervalMs = DEFAULT_MIN_INTERVAL_MS,
  ) {}

  /**
   * @throws ServiceError `NOT_FOUND` when the request does not exist or is not the viewer's
   */
  async watch(viewer: Viewer, requestId: string): Promise<AsyncIterableIterator<ProgressUpdate>> {
    await this.requests.require(viewer, requestId);
    return new Repeater<ProgressUpdate>(async (push, stop) => {
      let last: ProgressUpdate | null = null;
      const state: { pending: ProgressUpdate | null } = { pending: null };
      let timer: NodeJS.Timeout | undefined;
      let lastSentAt = 0;

      const send = async (update: ProgressUpdate) => {
        clearTimeout(timer);
        timer = undefined;
        state.pending = null;
        last = update;
        lastSentAt = Date.now();
        await push(update);
        if (isTerminal(update.status)) stop();
      };

      const offer = (incoming: ProgressUpdate) => {
        if (!last) {
          state.pending = incoming;
          return;
        }
        if (isTerminal(last.status)) return;
        // Events may arrive out of order across workers; counters never go backwards.
        const update =
          done(incoming.progress) < done(last.progress)
            ? { ...incoming, progress: last.progress }
            : incoming;
        if (isTerminal(update.status)) {
          void send(update);
          return;
        }
        state.pending = update;
        const wait = this.minIntervalMs - (Date.now() - lastSentAt);
        if (wait <= 0) void send(update);
        else timer ??= setTimeout(() => void (state.pending && send(state.pending)), wait);
      };

      // Listen first, then read: a change made in between arrives as an event, none is lost.
      const unsubscribe = await this.events.subscribe(requestId, (event: ProgressEvent) => {
        offer({ requestId, status: event.status, progress: event.progress, image: event.image });
      });
      try {
        const current = await this.requests.require(viewer, requestId);
        // Whatever arrived while the snapshot was read is offered after it, so none is lost.
        const early = state.pending;
        await send(snapshot(current));
        if (early) offer(early);
        await stop;
      } finally {
        clearTimeout(timer);
        unsubscribe();
      }
    });
  }
}
