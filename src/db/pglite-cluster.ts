import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { DataDirError } from './data-dir-lock.ts';

/** A file every PostgreSQL data directory holds once initdb has finished. */
const VERSION_FILE = 'PG_VERSION';
/** Suffix of the directory a new cluster is built in before it is renamed into place. */
const BUILD_SUFFIX = '.initdb-';

/** The embedded database's directory holds something else, or a database cannot be made in it. */
export class DatabaseDirError extends DataDirError {}

/** The child's program, beside this file: `.ts` when run from the sources, `.js` once built. */
const CHILD_PROGRAM = fileURLToPath(
  new URL(`./pglite-cluster.child${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/**
 * Makes sure `dataDir` holds a PGlite database, creating one with every migration applied when
 * it holds nothing.
 *
 * Creating a database runs PostgreSQL's initdb in PGlite's WebAssembly heap, which grows to some
 * 750 MB and is never given back while the process lives, and migrating it loads Prisma's schema
 * engine, another 20 to 40 MB kept for good. Both run here in a short-lived child process
 * instead, so the service afterwards holds only what an open database needs (some 130 MB). The
 * database is built in a sibling directory and renamed into place when complete: a start cut
 * short leaves no half-made database behind, and the next start builds it again.
 *
 * The caller must hold the data directory's lock (see `lockDataDir`).
 *
 * @returns the names of the migrations applied to a new database, or null when one was there
 * @throws DatabaseDirError when `dataDir` holds other files or is a file, or creation fails
 */
export async function ensurePGliteCluster(dataDir: string): Promise<string[] | null> {
  if (existsSync(path.join(dataDir, VERSION_FILE))) return null;

  const entries = await readdir(dataDir).catch((error: unknown) => {
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT') return [];
    if (code === 'ENOTDIR') {
      throw new DatabaseDirError(
        `${dataDir} is a file, not a database directory; move it away or set DATA_DIR to another directory.`,
      );
    }
    throw error;
  });
  if (entries.length > 0) {
    throw new DatabaseDirError(
      `${dataDir} holds files but no database (no ${VERSION_FILE}); move them away or set DATA_DIR to another directory.`,
    );
  }

  await removeUnfinishedBuilds(dataDir);
  const buildDir = `${dataDir}${BUILD_SUFFIX}${process.pid}`;
  const applied = await createInChild(buildDir);
  // rename(2) replaces an empty directory, so an empty `dataDir` left by an earlier start is fine.
  await rename(buildDir, dataDir);
  return applied;
}

/** Build directories of starts that were stopped before they finished. */
async function removeUnfinishedBuilds(dataDir: string): Promise<void> {
  const parent = path.dirname(dataDir);
  const prefix = `${path.basename(dataDir)}${BUILD_SUFFIX}`;
  const siblings = await readdir(parent).catch(() => []);
  for (const name of siblings.filter((sibling) => sibling.startsWith(prefix))) {
    // Retried: a child of a start that was killed may still be writing there as it stops.
    await rm(path.join(parent, name), { recursive: true, force: true, maxRetries: 5 });
  }
}

/** Node's options for the child: the TypeScript sources run through tsx, as the service does. */
function loaderOptions(): string[] {
  if (!CHILD_PROGRAM.endsWith('.ts')) return [];
  return ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];
}

async function createInChild(dir: string): Promise<string[]> {
  const child = spawn(process.execPath, [...loaderOptions(), CHILD_PROGRAM, dir], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // A process group of its own: Ctrl-C in a terminal signals the whole foreground group, and
    // the service stops cleanly once started, which it cannot do if the child dies under it.
    // Should the service go, the child still ends, by its standard input closing.
    detached: true,
  });
  child.stdin.on('error', () => undefined);

  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (stdout += chunk));
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < 2_000) stderr += chunk;
  });

  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(
    (resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode, exitSignal) => {
        resolve([exitCode, exitSignal]);
      });
    },
  );
  child.stdin.destroy();
  if (code !== 0) {
    await rm(dir, { recursive: true, force: true });
    const reason = stderr.trim() || (signal ? `stopped by ${signal}` : `exit code ${code}`);
    throw new DatabaseDirError(`Could not create the embedded database in ${dir}: ${reason}`);
  }
  return JSON.parse(stdout) as string[];
}
