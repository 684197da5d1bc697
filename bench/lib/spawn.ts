import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { RESULT_MARK } from './protocol.ts';

/** The repository root: children run from there, as `npm run bench` does. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A child that has not answered by then is stopped and the bench fails. */
const CHILD_TIMEOUT_MS = 10 * 60 * 1000;

export interface ChildOptions {
  /** Further options for the child's `node`, e.g. `--expose-gc`. */
  nodeArgs?: string[];
}

/**
 * Runs `bench/<scenario>.ts` in its own Node process with `args` as its one JSON argument and
 * resolves with the result it printed. The child's other output goes to this process's stderr.
 *
 * @throws Error when the child fails, prints no result, or outlives CHILD_TIMEOUT_MS
 */
export function runChild<T>(
  scenario: string,
  args: object,
  options: ChildOptions = {},
): Promise<T> {
  const nodeArgs = [...(options.nodeArgs ?? []), '--import', 'tsx'];
  const child = spawn(
    process.execPath,
    [...nodeArgs, path.join('bench', `${scenario}.ts`), JSON.stringify(args)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );

  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => (stdout += text));
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);

  return new Promise<T>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
      for (const other of stdout.split('\n')) {
        if (other && !other.startsWith(RESULT_MARK)) process.stderr.write(`  | ${other}\n`);
      }
      if (code !== 0 || !line) {
        reject(new Error(`bench/${scenario}.ts ended with ${signal ?? `code ${code}`}, no result`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_MARK.length)) as T);
    });
  });
}
