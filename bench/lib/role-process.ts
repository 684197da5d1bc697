/**
 * The service as `npm start` runs it (`node --import tsx src/main.ts`), one process per role,
 * for the scenarios that measure several processes of the production shape; or compiled, as
 * `npm run start:prod` runs it, for the scenarios that measure the memory a deployment sees.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { within } from '../../test/helpers/ws.ts';
import { pidListeningOn } from './proc-cpu.ts';
import { deploymentEnv, deploymentNodeOptions, ROOT } from './spawn.ts';

/** How long a process may take from spawn to `/readyz` answering 200. */
const READY_TIMEOUT_MS = 120_000;
const READY_POLL_MS = 200;
/** How long a process may take to stop after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 30_000;

/** A service process started by {@link startRole}. */
export interface RoleProcess {
  role: 'all' | 'api' | 'worker';
  /** The service's own process (with `compiled`, npm's child, found by the port it listens on). */
  pid: number;
  /** Where it listens: the whole API, or a worker's probes. */
  url: string;
  /** SIGTERM, then waits for the exit; SIGKILL if it outlives STOP_TIMEOUT_MS. */
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 now (taken from the kernel and let go again). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Passes a child's output lines on to this process's stderr, marked with `label`. */
function relay(child: ChildProcess, label: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      process.stderr.write(`  [${label}] ${line}\n`);
    });
  }
}

async function answersReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`);
    await res.arrayBuffer();
    return res.ok;
  } catch (error: unknown) {
    if (error instanceof TypeError) return false; // not listening yet
    throw error;
  }
}

async function untilReady(url: string, child: ChildProcess): Promise<void> {
  while (!(await answersReady(url))) {
    if (child.exitCode !== null) throw new Error(`${url}: the process ended before it was ready`);
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
}

/** How {@link startRole} starts a process besides its role and environment. */
export interface RoleOptions {
  /** Loopback port to listen on; a free one when unset. */
  port?: number;
  /** Options for `node` before the script, e.g. `--cpu-prof`. */
  nodeArgs?: readonly string[];
  /**
   * Runs `npm run start:prod` (the compiled service in `dist/`, with the memory settings the
   * script and the Dockerfile give it) instead of the TypeScript sources; build it first. With
   * `nodeArgs`, which Node takes neither from npm nor from NODE_OPTIONS (`--cpu-prof`), it runs
   * what that script runs, its settings read from package.json, with those options added.
   */
  compiled?: boolean;
}

/**
 * Starts `src/main.ts` with exactly `env` (plus PATH and HOME) on a loopback port and resolves
 * once its `/readyz` answers 200: for a worker, once it takes jobs.
 *
 * @param label - marks the process's output lines, passed on to this process's stderr
 * @throws when the process ends or is not ready within READY_TIMEOUT_MS
 */
export async function startRole(
  role: RoleProcess['role'],
  label: string,
  env: Record<string, string>,
  options: RoleOptions = {},
): Promise<RoleProcess> {
  const port = options.port ?? (await freePort());
  const nodeArgs = options.nodeArgs ?? [];
  const throughNpm = options.compiled === true && nodeArgs.length === 0;
  const [command, args] = throughNpm
    ? ['npm', ['run', '--silent', 'start:prod']]
    : options.compiled
      ? [process.execPath, [...deploymentNodeOptions(), ...nodeArgs, 'dist/src/main.js']]
      : [process.execPath, [...nodeArgs, '--import', 'tsx', path.join('src', 'main.ts')]];
  const settings = options.compiled && !throughNpm ? deploymentEnv() : {};
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...settings,
      ...env,
      ROLE: role,
      PORT: `${port}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  relay(child, label);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;

  const ready = untilReady(url, child);
  // Past the deadline the poll ends by itself once the killed child is gone; nobody awaits it.
  ready.catch(() => undefined);
  try {
    await within(ready, READY_TIMEOUT_MS, `${label} to be ready`);
  } catch (error: unknown) {
    child.kill('SIGKILL');
    throw error;
  }

  // npm's script ends in `exec node`, so the service is npm's child: signal it, not npm.
  const pid = throughNpm ? await pidListeningOn(port) : child.pid;
  if (pid === undefined) throw new Error(`${label}: no process is seen listening on ${port}`);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(pid, 'SIGTERM');
    await within(exited, STOP_TIMEOUT_MS, `${label} to stop`).catch((error: unknown) => {
      process.kill(pid, 'SIGKILL');
      throw error;
    });
  };
  return { role, pid, url, stop };
}
