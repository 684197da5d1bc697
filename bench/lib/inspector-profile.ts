import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

/** Sampling interval of the profiles, in microseconds (what `--cpu-prof` uses by default). */
const SAMPLING_INTERVAL_US = 1000;

/**
 * Runs `work`, and when `file` is given profiles this process's main thread meanwhile (V8's
 * sampling profiler through the built-in inspector, so startup is left out) and writes the
 * profile there as a `.cpuprofile` file that DevTools opens.
 */
export async function withCpuProfile<T>(
  file: string | undefined,
  work: () => Promise<T>,
): Promise<T> {
  if (!file) return work();

  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(file, JSON.stringify(profile));
    session.disconnect();
  }
}
