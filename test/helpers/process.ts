import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

import type { ShapeResources } from './shape.ts';
import { shapeResources } from './shape.ts';

/** The project root: where `src/`, `dist/` and `prisma/` are. */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '../..');

/** How long a wait on a child lasts before it fails with the child's output. */
const DEFAULT_TIMEOUT_MS = 60_000;

/** What a test passes; `undefined` leaves a variable unset. */
export type ChildEnv = Record<string, string | undefined>;

/** How a child ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process with its output collected line by line. */
export interface ChildHandle {
  /** Lines written so far on standard output. */
  readonly stdout: readonly string[];
  /** Lines written so far on standard error. */
  readonly stderr: readonly string[];
  /**
   * Resolves with the first line (already written or still to come) that matches `pattern`.
   *
   * @throws when the child ends or `timeoutMs` passes first; the message carries its output
   */
  waitForLine(pattern: RegExp, options?: WaitOptions): Promise<RegExpExecArray>;
  /** Resolves once the child has ended and its output is complete. */
  waitForExit(timeoutMs?: number): Promise<ChildExit>;
  /** Sends `signal` (SIGTERM by default) and resolves once the child has ended. */
  kill(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ChildExit>;
  /** Sends `signal` and returns at once. */
  signal(signal: NodeJS.Signals): void;
}

export interface WaitOptions {
  timeoutMs?: number;
  stream?: 'stdout' | 'stderr';
}

/** A service process that has logged its `listening` line. */
export interface RunningService {
  process: ChildHandle;
  /** The URL from the `listening on <url>` line. */
  url: string;
}

const children = new Set<ChildHandle>();
const tempDirs = new Set<string>();
const shapes = new Set<ShapeResources>();

/**
 * The child sees PATH and HOME and nothing else of the test runner's environment, so that a
 * variable the runner sets for itself (NODE_ENV=test, say) cannot change how the service
 * behaves. Variables passed as `undefined` are left out.
 */
function childEnv(env: ChildEnv): NodeJS.ProcessEnv {
  const merged: ChildEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
  return Object.fromEntries(
    Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

function describeOutput(stdout: readonly string[], stderr: readonly string[]): string {
  const tail = (lines: readonly string[]) => lines.slice(-20).join('\n');
  return `\n--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${tail(stderr)}`;
}

function wrap(child: ChildProcess, label: string): ChildHandle {
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    const source = child[stream];
    if (!source) continue;
    createInterface({ input: source, crlfDelay: Infinity }).on('line', (line) => {
      lines[stream].push(line);
      notify();
    });
  }

  let exit: ChildExit | undefined;
  // 'close' rather than 'exit': it comes once the output streams are drained too.
  child.once('close', (code, signal) => {
    exit = { code, signal };
    children.delete(handle);
    notify();
  });

  /** Settles with `probe`'s first value other than undefined, on every new line or exit. */
  const withTimeout = <T>(what: string, timeoutMs: number, probe: () => T | undefined) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `${label}: ${what} within ${timeoutMs} ms${describeOutput(lines.stdout, lines.stderr)}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      const check = () => {
        try {
          const value = probe();
          if (value !== undefined) {
            cleanup();
            resolve(value);
          }
        } catch (error: unknown) {
          cleanup();
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      };
      listeners.add(check);
      check();
    });

  const handle: ChildHandle = {
    stdout: lines.stdout,
    stderr: lines.stderr,
    waitForLine: (pattern, { timeoutMs = DEFAULT_TIMEOUT_MS, stream = 'stdout' } = {}) =>
      withTimeout(`no ${stream} line matching ${String(pattern)}`, timeoutMs, () => {
        for (const line of lines[stream]) {
          const match = pattern.exec(line);
          if (match) return match;
        }
        if (exit) {
          throw new Error(
            `${label} ended (code ${String(exit.code)}, signal ${String(exit.signal)}) before a ${stream} line matched ${String(pattern)}${describeOutput(lines.stdout, lines.stderr)}`,
          );
        }
        return undefined;
      }),
    waitForExit: (timeoutMs = DEFAULT_TIMEOUT_MS) =>
      withTimeout('did not end', timeoutMs, () => exit),
    kill: (signal = 'SIGTERM', timeoutMs = DEFAULT_TIMEOUT_MS) => {
      if (!exit) child.kill(signal);
      return handle.waitForExit(timeoutMs);
    },
    signal: (signal) => {
      if (!exit) child.kill(signal);
    },
  };
  children.add(handle);
  return handle;
}

/**
 * Starts `node <args>` in the project root with only `env` (plus PATH and HOME). Every child
 * started here is tracked, so `cleanUpProcesses` can end it whatever the test did.
 */
export function spawnNode(args: string[], env: ChildEnv): ChildHandle {
  const child = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return wrap(child, `node ${args.join(' ')}`);
}

/** Runs an npm script in the project root, as a user would. */
export function spawnNpm(args: string[], env: ChildEnv = {}): ChildHandle {
  const child = spawn('npm', args, {
    cwd: PROJECT_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return wrap(child, `npm ${args.join(' ')}`);
}

/**
 * Starts the service from source (`node --import tsx src/main.ts`, what `npm start` runs) on
 * loopback and an ephemeral port, logging JSON. `env` adds to or, with `undefined`, removes
 * from those defaults.
 */
export function spawnService(env: ChildEnv, entry = ['--import', 'tsx', 'src/main.ts']) {
  return spawnNode(entry, { PORT: '0', HOST: '127.0.0.1', LOG_FORMAT: 'json', ...env });
}

/** Starts the service and waits for its `listening on <url>` line. */
export async function startServiceProcess(
  env: ChildEnv,
  entry?: string[],
): Promise<RunningService> {
  const child = spawnService(env, entry);
  const [, url = ''] = await child.waitForLine(/listening on (https?:\/\/[^\s"]+)/);
  return { process: child, url };
}

/** A fresh, empty directory under the system's temporary directory, removed by cleanUpProcesses. */
export async function makeTempDir(prefix = 'image-pipeline-process-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/**
 * The variables that start a child on the shape TEST_SHAPE names (see `./shape.ts`): none for
 * the embedded shape; for the production one, a fresh PostgreSQL database and Redis key prefix
 * that cleanUpProcesses removes. Children sharing one set share the database and the queue.
 */
export async function makeShapeEnv(): Promise<Record<string, string>> {
  const shape = await shapeResources();
  shapes.add(shape);
  return shape.env;
}

/**
 * Kills (SIGKILL) every child still running, then removes every temporary directory and every
 * database and key prefix made by makeShapeEnv.
 */
export async function cleanUpProcesses(): Promise<void> {
  await Promise.all([...children].map((child) => child.kill('SIGKILL')));
  await Promise.all([...tempDirs].map((dir) => rm(dir, { recursive: true, force: true })));
  tempDirs.clear();
  const released = [...shapes];
  shapes.clear();
  await Promise.all(released.map((shape) => shape.release()));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The lines of `lines` that parse as JSON objects, parsed. */
export function jsonLines(lines: readonly string[]): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    try {
      const value: unknown = JSON.parse(line);
      return isRecord(value) ? [value] : [];
    } catch (error: unknown) {
      if (error instanceof SyntaxError) return [];
      throw error;
    }
  });
}
