import type { ImageRecord, Progress, RequestStatus } from '../domain/request.ts';

/**
 * A change in a request: published by whoever made it (an image finishing, the request
 * ending) and heard by subscribers on every API process.
 */
export interface ProgressEvent {
  requestId: string;
  status: RequestStatus;
  progress: Progress;
  /** The image whose change caused the event; absent for request-level changes. */
  image: ImageRecord | null;
  /** When the change was made, in epoch milliseconds. */
  at: number;
}

export type ProgressListener = (event: ProgressEvent) => void;

/** Fan-out of progress events, in-process or across processes. */
export interface EventBus {
  readonly kind: 'memory' | 'redis';
  publish(event: ProgressEvent): Promise<void>;
  /**
   * Calls `listener` for each event of one request until the returned function is called.
   * Resolves once the listener is attached, so a read made afterwards misses no event.
   */
  subscribe(requestId: string, listener: ProgressListener): Promise<() => void>;
  /** Listeners attached now, across all requests (for leak checks and metrics). */
  listenerCount(): number;
  ping(): Promise<void>;
  close(): Promise<void>;
}
