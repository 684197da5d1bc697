import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { RESULT_MARK } from './protocol.ts';

/** The repository root: children run from there, as `npm run bench` does. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A child that has not answered by then is stopped and the bench fails. */
const CHILD_TIMEOUT_MS = 10 * 60 * 1000;

/** The `start:prod` script of package.json. */
function startProdScript(): string {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  return pkg.scripts['start:prod'] ?? '';
}

/**
 * The V8 options `npm run start:prod` gives Node (`--max-semi-space-size=4 …`), read from
 * package.json so that a bench child runs the service's code as a deployment does.
 *
 * @throws Error when the script no longer has the shape `… exec node <options> dist/src/main.js`
 */
export function deploymentNodeOptions(): string[] {
  const script = startProdScript();
  const match = /\bexec node ((?:--[\w-]+(?:=\S+)? )*)dist\/src\/main\.js$/.exec(script);
  if (!match) throw new Error(`Unexpected start:prod script in package.json: ${script}`);
  return (match[1] ?? '').trim().split(' ').filter(Boolean);
}

/**
 * The variables `npm run start:prod` sets when they are unset (`NAME=${NAME:-value}`, the
 * allocator's settings), read from package.json like {@link deploymentNodeOptions}.
 */
export function deploymentEnv(): Record<string, string> {
  const pairs = startProdScript().matchAll(/\b(\w+)=\$\{\1:-([^}]*)\}/g);
  return Object.fromEntries([...pairs].map(([, name = '', value = '']) => [name, value]));
}

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
