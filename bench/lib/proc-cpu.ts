/**
 * CPU time of other processes from Linux's /proc: the services a scenario started, and the
 * PostgreSQL and Redis servers found from the port they listen on. Every figure is user +
 * system time in ms, every thread of the process included, children not.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';

/** Clock ticks a second, the unit of /proc's times (USER_HZ, 100 on every common kernel). */
const TICKS_PER_SECOND = clockTicks();

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch (error: unknown) {
    if (error instanceof Error) return 100;
    throw error;
  }
}

const ticksToMs = (ticks: number) => (ticks * 1000) / TICKS_PER_SECOND;

/** The fields of `/proc/<pid>/stat` after the command name, which may itself hold spaces. */
async function statFields(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** CPU time used so far by process `pid`; undefined once it is gone. */
export async function processCpuMs(pid: number): Promise<number | undefined> {
  const fields = await statFields(pid);
  if (!fields) return undefined;
  // utime and stime, fields 14 and 15 of stat(5), are the 12th and 13th after the name.
  return ticksToMs(Number(fields[11]) + Number(fields[12]));
}

/** CPU time of each of `pids` now; those gone are left out. */
export async function cpuOf(pids: readonly number[]): Promise<Map<number, number>> {
  const times = new Map<number, number>();
  for (const pid of pids) {
    const ms = await processCpuMs(pid);
    if (ms !== undefined) times.set(pid, ms);
  }
  return times;
}

/**
 * CPU time between two readings of the same processes: a process missing from `before` (started
 * since) counts from zero, one missing from `after` (ended since) is lost.
 */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, end] of after) ms += end - (before.get(pid) ?? 0);
  return ms;
}

async function numericEntries(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names.filter((name) => /^\d+$/.test(name)).map(Number);
}

/** Socket inodes listening on `port` (any address), from /proc/net/tcp and tcp6. */
async function listeningInodes(port: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1] ?? '';
      const listening = cols[3] === '0A';
      if (listening && parseInt(local.split(':')[1] ?? '', 16) === port) inodes.add(cols[9] ?? '');
    }
  }
  return inodes;
}

/**
 * The process listening on TCP `port` on this machine (its open sockets in /proc/<pid>/fd);
 * undefined when none is visible, e.g. the server runs elsewhere or under another user.
 */
export async function pidListeningOn(port: number): Promise<number | undefined> {
  const inodes = await listeningInodes(port);
  if (inodes.size === 0) return undefined;
  const wanted = new Set([...inodes].map((inode) => `socket:[${inode}]`));

  for (const pid of await numericEntries('/proc')) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (wanted.has(target)) return pid;
    }
  }
  return undefined;
}

/** The processes whose parent is `pid` (a PostgreSQL server's backends and helpers). */
export async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const candidate of await numericEntries('/proc')) {
    const fields = await statFields(candidate);
    if (fields && Number(fields[1]) === pid) children.push(candidate);
  }
  return children;
}

/** CPU time the whole machine spent busy so far, every core and process (from /proc/stat). */
export async function machineBusyMs(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
  return ticksToMs((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0));
}
