import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { isProcessRunning } from '../processes.ts';

const LOCK_FILE = 'service.pid';

/** The data directory cannot serve this process; the message says why and what to do. */
export class DataDirError extends Error {}

/** Another live process already uses the data directory. */
export class DataDirLockedError extends DataDirError {}

/** A file-system refusal (read-only, not a directory, no permission) as one line to act on. */
function unusable(dataDir: string, error: unknown): DataDirError {
  const { code, message } = error as NodeJS.ErrnoException;
  return new DataDirError(
    `DATA_DIR ${dataDir} cannot be used (${code ?? message}); set DATA_DIR to a directory this process can write.`,
  );
}

/**
 * Claims the data directory for this process, since the embedded database must never be opened
 * by two processes at once (each would overwrite the other's writes). A lock left by a process
 * that has died is taken over.
 *
 * @returns a function that releases the lock
 * @throws DataDirLockedError when a live process holds it; DataDirError when it cannot be written
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true }).catch((error: unknown) => {
    throw unusable(dataDir, error);
  });
  const file = path.join(dataDir, LOCK_FILE);

  for (;;) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
      return () => rm(file, { force: true });
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw unusable(dataDir, error);
    }

    const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    // In a container the previous holder may have had our own pid; that holder is gone.
    if (
      Number.isInteger(holder) &&
      holder > 0 &&
      holder !== process.pid &&
      isProcessRunning(holder)
    ) {
      throw new DataDirLockedError(
        `Another process (pid ${holder}) is already using DATA_DIR ${dataDir}; stop it first or choose another DATA_DIR.`,
      );
    }
    await rm(file, { force: true });
  }
}
