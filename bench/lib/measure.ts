import { performance } from 'node:perf_hooks';

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
