import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import type { ServerStats } from '../service.server.ts';

const MB = 1024 * 1024;

/** Wall time and CPU time (user + system, every thread of the process) over one window. */
export interface WindowTotals {
  seconds: number;
  cpuMs: number;
}

/** Starts a measurement window; the returned function ends it. */
export function startWindow(): () => WindowTotals {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return {
      seconds: (performance.now() - wall) / 1000,
      cpuMs: (used.user + used.system) / 1000,
    };
  };
}

/** This process's peak resident set so far, in MB (`resourceUsage().maxRSS` is in KB). */
export function peakRssMB(): number {
  return round(process.resourceUsage().maxRSS / 1024);
}

/**
 * What a bench server's `/stats` answers of this process: its memory after a full collection
 * when `gc` is exposed, its peak RSS and the CPU it has used, with `listeners` as given.
 */
export function serverStats(listeners: number): ServerStats {
  globalThis.gc?.();
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    external: memory.external,
    listeners,
    peakRssMB: peakRssMB(),
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/**
 * Resets this process's peak RSS to its current RSS (Linux: `5` into `/proc/self/clear_refs`),
 * so a later {@link peakRssMB} is the peak of what ran since. Read the peak first if the
 * lifetime peak is wanted too.
 *
 * @returns false where the kernel does not allow it; the peak then still counts from start
 */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch (error: unknown) {
    if (error instanceof Error && 'code' in error) return false;
    throw error;
  }
}

/** This process's resident set now, in MB. */
export function rssNowMB(): number {
  return round(process.memoryUsage.rss() / MB);
}

/** Highest values seen by a {@link MemorySampler}, in MB. */
export interface MemoryPeaks {
  heapUsedMB: number;
  externalMB: number;
  arrayBuffersMB: number;
}

/**
 * Samples V8 heap and off-heap (Buffer) memory at an interval until stopped, to tell JS heap
 * growth from native growth when the peak RSS rises. The timer is unref'd, so a sampler left
 * running never keeps the process alive.
 */
export class MemorySampler {
  private readonly peaks: MemoryPeaks = { heapUsedMB: 0, externalMB: 0, arrayBuffersMB: 0 };
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 200) {
    this.timer = setInterval(() => {
      this.sample();
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops sampling and returns the peaks. */
  stop(): MemoryPeaks {
    clearInterval(this.timer);
    this.sample();
    return { ...this.peaks };
  }

  private sample(): void {
    const usage = process.memoryUsage();
    this.peaks.heapUsedMB = Math.max(this.peaks.heapUsedMB, round(usage.heapUsed / MB));
    this.peaks.externalMB = Math.max(this.peaks.externalMB, round(usage.external / MB));
    this.peaks.arrayBuffersMB = Math.max(this.peaks.arrayBuffersMB, round(usage.arrayBuffers / MB));
  }
}

/** Rounds to one decimal. */
export function round(value: number, decimals = 1): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/** What {@link measureWindow} saw. Memory in MB, CPU in ms (every thread of the process). */
export interface WindowReport {
  seconds: number;
  cpuMs: number;
  /** Peak RSS from process start to the window (startup: modules, database, server). */
  startupPeakRssMB: number;
  rssBeforeMB: number;
  /** Peak RSS inside the window alone, when the peak could be reset (else since start). */
  windowPeakRssMB: number;
  peakResetWorked: boolean;
  memory: MemoryPeaks;
  /** How late timers ran in the window: time the main thread could answer nothing else. */
  eventLoopDelay: { meanMs: number; p99Ms: number; maxMs: number };
}

/** Heap still used after a full collection, in MB; null unless node ran with `--expose-gc`. */
export function heapAfterGcMB(): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  gc();
  return round(process.memoryUsage().heapUsed / MB);
}

/** Runs `work` as the measured window: wall and CPU time, RSS peaks before and during it. */
export async function measureWindow<T>(
  work: () => Promise<T>,
): Promise<{ value: T; report: WindowReport }> {
  const startupPeakRssMB = peakRssMB();
  const rssBeforeMB = rssNowMB();
  const peakResetWorked = resetPeakRss();
  const sampler = new MemorySampler();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();

  const end = startWindow();
  const value = await work();
  const { seconds, cpuMs } = end();

  loop.disable();
  const memory = sampler.stop();
  const windowPeakRssMB = peakRssMB();
  return {
    value,
    report: {
      seconds,
      cpuMs,
      startupPeakRssMB,
      rssBeforeMB,
      windowPeakRssMB,
      peakResetWorked,
      memory,
      eventLoopDelay: {
        meanMs: round(loop.mean / 1e6),
        p99Ms: round(loop.percentile(99) / 1e6),
        maxMs: round(loop.max / 1e6),
      },
    },
  };
}
