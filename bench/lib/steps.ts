import { performance } from 'node:perf_hooks';

import { round } from './measure.ts';

/** Wall time spent in one named step, summed over its calls (concurrent calls overlap). */
export interface StepTotals {
  calls: number;
  totalMs: number;
  meanMs: number;
}

type AsyncMethod = (...args: never[]) => Promise<unknown>;

/**
 * Adds up the wall time of named async steps. Used to say where an image's time goes; the
 * overhead is two `performance.now()` calls a step.
 */
export class StepTimer {
  private readonly totals = new Map<string, { calls: number; ms: number }>();

  /** Forgets every step timed so far (after a warm-up, say). */
  reset(): void {
    this.totals.clear();
  }

  /** Runs `fn`, adding its duration (even when it rejects) to step `name`. */
  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      const entry = this.totals.get(name) ?? { calls: 0, ms: 0 };
      entry.calls += 1;
      entry.ms += performance.now() - started;
      this.totals.set(name, entry);
    }
  }

  /**
   * Replaces `target[key]` on that one object by a timed wrapper. Callers that look the method
   * up at call time (`obj.method(...)`) are timed; the class and other instances are untouched.
   */
  wrap<K extends string>(target: Record<K, AsyncMethod>, key: K, name: string): void {
    const original = target[key].bind(target);
    target[key] = (...args: never[]) => this.time(name, () => original(...args));
  }

  /** Per-step totals, rounded to 0.1 ms. */
  summary(): Record<string, StepTotals> {
    return Object.fromEntries(
      [...this.totals].map(([name, { calls, ms }]) => [
        name,
        { calls, totalMs: round(ms), meanMs: round(ms / calls, 2) },
      ]),
    );
  }
}
