import { readFile } from 'node:fs/promises';

import { round } from './measure.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The parts of a V8 `.cpuprofile` file this summary reads. */
interface CpuProfile {
  nodes: ProfileNode[];
  /** Monotonic clock at the start, µs (the clock of `process.hrtime` in every process). */
  startTime?: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A span of the monotonic clock, µs: only the samples inside it are summed. */
export interface ProfileWindow {
  from: number;
  to: number;
}

/** One line of a profile summary: self time of a function or of a package. */
export interface SelfTime {
  name: string;
  ms: number;
  /** Share of the main thread's busy time (idle excluded). */
  percent: number;
}

/** The top self-time functions and packages of one profile. */
export interface ProfileSummary {
  file: string;
  busyMs: number;
  idleMs: number;
  functions: SelfTime[];
  packages: SelfTime[];
}

const IDLE = '(idle)';

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length);
  const src = url.indexOf('/src/');
  return src >= 0 ? url.slice(src + 1) : url;
}

/** The package (or src/ folder, or V8 category) a frame belongs to. */
function packageOf(frame: CallFrame): string {
  if (!frame.url) return frame.functionName || '(native)';
  if (frame.url.startsWith('wasm://')) return 'wasm';
  if (frame.url.startsWith('node:')) return 'node (built-in modules)';
  const parts = shortUrl(frame.url).split('/');
  if (parts[0] === 'src' || parts[0] === 'bench') return parts.slice(0, 2).join('/');
  return parts[0]?.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? frame.url);
}

function functionOf(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  return frame.url ? `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}` : name;
}

function top(totals: Map<string, number>, busyUs: number, count: number): SelfTime[] {
  return [...totals]
    .filter(([name]) => name !== IDLE)
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, ms: round(us / 1000), percent: round((100 * us) / busyUs) }));
}

/**
 * The package of each node; WebAssembly frames have no package of their own, so they are
 * labelled with the package of their nearest JavaScript caller (PGlite's Postgres, Prisma's
 * query compiler).
 */
function packagesByNode(nodes: ProfileNode[]): Map<number, string> {
  const parent = new Map<number, number>();
  for (const node of nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const frames = new Map(nodes.map((node) => [node.id, node.callFrame]));

  const labelOf = (id: number): string => {
    const frame = frames.get(id);
    if (!frame) return '(unknown)';
    const own = packageOf(frame);
    if (own !== 'wasm') return own;
    for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
      const caller = frames.get(up);
      if (caller?.url && !caller.url.startsWith('wasm://')) return `wasm via ${packageOf(caller)}`;
    }
    return 'wasm';
  };
  return new Map(nodes.map((node) => [node.id, labelOf(node.id)]));
}

/**
 * Adds up self time per function and per package from the samples of `profile`, or of those
 * taken inside `window` (a whole-process `--cpu-prof` profile without its start and stop).
 */
export function summariseProfile(
  profile: CpuProfile,
  file: string,
  count = 15,
  window?: ProfileWindow,
): ProfileSummary {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const packages = packagesByNode(profile.nodes);
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let at = profile.startTime ?? 0;

  samples.forEach((id, i) => {
    const frame = frames.get(id);
    const us = deltas[i] ?? 0;
    at += us;
    if (!frame || (window && (at < window.from || at > window.to))) return;
    const fn = functionOf(frame);
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const pkg = packages.get(id) ?? '(unknown)';
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  });

  const idleUs = byFunction.get(IDLE) ?? 0;
  const busyUs = [...byFunction.values()].reduce((a, b) => a + b, 0) - idleUs;
  return {
    file,
    busyMs: round(busyUs / 1000),
    idleMs: round(idleUs / 1000),
    functions: top(byFunction, busyUs, count),
    packages: top(byPackage, busyUs, 10),
  };
}

/** Reads and summarises the `.cpuprofile` file `file`, inside `window` when given. */
export async function summariseProfileFile(
  file: string,
  window?: ProfileWindow,
): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  return summariseProfile(profile, file, 15, window);
}

/** The summary as lines for the terminal. */
export function profileLines(summary: ProfileSummary): string[] {
  return [
    `  main thread busy ${summary.busyMs} ms, idle ${summary.idleMs} ms (${summary.file})`,
    '  top self time by package:',
    ...summary.packages.map((s) => `    ${pad(s)} ${s.name}`),
    '  top self time by function:',
    ...summary.functions.map((s) => `    ${pad(s)} ${s.name}`),
  ];
}

function pad(s: SelfTime): string {
  return `${s.percent.toFixed(1).padStart(5)}% ${s.ms.toFixed(0).padStart(7)} ms`;
}
