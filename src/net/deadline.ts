import { FetchError, abortedError, timeoutError } from './fetch-error.ts';

/** One abort signal for a whole fetch, fired by the deadline or by the caller's signal. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Clears the timer and the listener on the caller's signal; call once the fetch settles. */
  dispose(): void;
}

/**
 * Starts the total deadline of a fetch. The signal aborts with a `TIMEOUT` FetchError after
 * `timeoutMs` milliseconds, or with an `ABORTED` one when `external` aborts first (at once if it
 * already has).
 */
export function startDeadline(timeoutMs: number, external?: AbortSignal): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(timeoutError(timeoutMs));
  }, timeoutMs);
  const cancel = (): void => {
    controller.abort(abortedError());
  };

  if (external?.aborted === true) {
    cancel();
  }
  external?.addEventListener('abort', cancel, { once: true });

  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      external?.removeEventListener('abort', cancel);
    },
  };
}

/** The FetchError a deadline signal was aborted with. */
export function abortReason(signal: AbortSignal): FetchError {
  const reason: unknown = signal.reason;
  return reason instanceof FetchError ? reason : abortedError();
}

/**
 * Runs `onAbort` once when `signal` aborts (at once if it already has).
 *
 * @returns a function that removes the listener; call it when the guarded step is over
 */
export function whenAborted(signal: AbortSignal, onAbort: () => void): () => void {
  if (signal.aborted) {
    onAbort();
    return () => undefined;
  }

  signal.addEventListener('abort', onAbort, { once: true });
  return () => {
    signal.removeEventListener('abort', onAbort);
  };
}

/**
 * Settles with `promise`, or rejects with the abort reason as soon as `signal` aborts. The
 * promise itself cannot be cancelled (a DNS query, say); its late result is ignored.
 */
export async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  let stop = (): void => undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    stop = whenAborted(signal, () => {
      reject(abortReason(signal));
    });
  });

  try {
    return await Promise.race([promise, aborted]);
  } finally {
    stop();
  }
}
