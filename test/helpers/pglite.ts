import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import type { Database } from '../../src/db/database.ts';
import { openDatabase } from '../../src/db/database.ts';

/**
 * The embedded database opened (and migrated) as the service opens it, in a new temporary
 * directory named after `prefix`; `close` closes it and removes the directory.
 */
export async function openTempPGlite(
  prefix: string,
): Promise<{ db: Database; close: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  const db = await openDatabase({ url: undefined, pgliteDir: path.join(dir, 'db'), poolSize: 1 });
  return {
    db,
    close: async () => {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
