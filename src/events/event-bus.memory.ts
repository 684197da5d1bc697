import { EventEmitter } from 'node:events';

import type { EventBus, ProgressEvent, ProgressListener } from './event-bus.ts';

/** Events within one process: the bus of the one-process shape. */
export class MemoryEventBus implements EventBus {
  readonly kind = 'memory';
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per subscriber of a request; many browsers may watch one request.
    this.emitter.setMaxListeners(0);
  }

  publish(event: ProgressEvent): Promise<void> {
    this.emitter.emit(event.requestId, event);
    return Promise.resolve();
  }

  subscribe(requestId: string, listener: ProgressListener): Promise<() => void> {
    this.emitter.on(requestId, listener);
    return Promise.resolve(() => {
      this.emitter.off(requestId, listener);
    });
  }

  listenerCount(): number {
    return this.emitter.eventNames().reduce((n, name) => n + this.emitter.listenerCount(name), 0);
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.emitter.removeAllListeners();
    return Promise.resolve();
  }
}
