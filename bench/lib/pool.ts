/**
 * Calls `task(index)` for every index below `count`, with at most `concurrency` calls in
 * flight. Rejects with the first task's error; tasks already started are not waited for.
 */
export async function runPool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next;
      next += 1;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
