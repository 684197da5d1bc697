/** One reading of the process's memory, with how many images were done at that moment. */
export interface RssSample {
  done: number;
  rssMb: number;
  heapMb: number;
}

/** Median RSS of the samples taken while the first and the last quarter of images were done. */
export interface RssQuarters {
  firstQuarterMb: number;
  lastQuarterMb: number;
  growthMb: number;
  maxMb: number;
  samples: number;
}

const MB = 1024 * 1024;

/**
 * Reads RSS and heap every `intervalMs` until stopped; `done` says how many images are done.
 *
 * @returns a function that stops sampling and returns the samples taken
 */
export function sampleRss(done: () => number, intervalMs = 50): () => RssSample[] {
  const samples: RssSample[] = [];
  const take = (): void => {
    const { rss, heapUsed } = process.memoryUsage();
    samples.push({ done: done(), rssMb: rss / MB, heapMb: heapUsed / MB });
  };
  take();
  const timer = setInterval(take, intervalMs);
  return () => {
    clearInterval(timer);
    take();
    return samples;
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/**
 * Compares the median RSS while the first quarter of `total` images was being done with the
 * median while the last quarter was. Medians, so one GC pause or one large image does not
 * decide the figure.
 */
export function rssQuarters(samples: readonly RssSample[], total: number): RssQuarters {
  const first = samples.filter((s) => s.done < total / 4).map((s) => s.rssMb);
  const last = samples.filter((s) => s.done >= (total * 3) / 4).map((s) => s.rssMb);
  const firstQuarterMb = median(first);
  const lastQuarterMb = median(last);
  return {
    firstQuarterMb,
    lastQuarterMb,
    growthMb: lastQuarterMb - firstQuarterMb,
    maxMb: Math.max(...samples.map((s) => s.rssMb)),
    samples: samples.length,
  };
}
