import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const SECRET_FILE_NAME = 'jwt-secret';

/**
 * The HS256 secret when `JWT_SECRET` is unset: made at first start and kept in the data
 * directory, readable by the owner only.
 *
 * @returns the secret, and whether it was made just now
 */
export async function loadOrCreateSecret(
  dataDir: string,
): Promise<{ secret: string; created: boolean }> {
  const file = path.join(dataDir, SECRET_FILE_NAME);
  try {
    return { secret: (await readFile(file, 'utf8')).trim(), created: false };
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }

  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  try {
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error: unknown) {
    // Another process wrote it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateSecret(dataDir);
    throw error;
  }
  await chmod(file, 0o600);
  return { secret, created: true };
}
