/**
 * Resolves once every promise has settled or `ms` has passed, whichever comes first; never
 * rejects. Used to give running work a bounded grace period at shutdown.
 */
export async function settleWithin(promises: readonly Promise<unknown>[], ms: number) {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(promises),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}
