import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { ROOT } from './spawn.ts';

/** Where `npm run bench` writes its JSON files (git-ignored). */
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

/** Where `--profile` writes `.cpuprofile` files (open them in Chrome DevTools). */
export const PROFILES_DIR = path.join(RESULTS_DIR, 'profiles');

/** The machine and code a result was measured on. */
export interface MachineInfo {
  cpus: number;
  availableParallelism: number;
  model: string;
  totalMemoryMB: number;
  loadAverage: number[];
  node: string;
  platform: string;
  date: string;
  commit: string;
  /** True when src/ differed from the commit (someone's edits in progress). */
  srcDirty: boolean;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch (error: unknown) {
    // A checkout without git still benches; the figures just lose their commit.
    return `unknown (${error instanceof Error ? error.message.split('\n')[0] : 'git failed'})`;
  }
}

/** Facts about this machine and checkout, taken now. */
export function machineInfo(): MachineInfo {
  return {
    cpus: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    model: os.cpus()[0]?.model ?? 'unknown',
    totalMemoryMB: Math.round(os.totalmem() / 1024 / 1024),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
    commit: git(['rev-parse', 'HEAD']),
    srcDirty: git(['status', '--porcelain', '--', 'src']) !== '',
  };
}

/** Writes `bench/results/<scenario>.json` and returns its path. */
export async function writeResult(scenario: string, content: object): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${scenario}.json`);
  await writeFile(file, `${JSON.stringify(content, null, 2)}\n`);
  return file;
}
