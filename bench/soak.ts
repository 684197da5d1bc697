/**
 * Child process of the `soak` scenario: the whole service processes one long request while
 * its RSS, heap and open handles (`process.getActiveResourcesInfo()`) are sampled, to show that
 * none of them grows with the work done. Started by `bench/run.ts`:
 * `node --expose-gc --import tsx bench/soak.ts '{"n":5000,"concurrency":2,"photoBaseUrl":"…"}'`.
 */
import { measureWindow, peakRssMB, round } from './lib/measure.ts';
import { childArgs, emitResult, intArg, stringArg } from './lib/protocol.ts';
import { startFullService, waitForEnd } from './lib/service-harness.ts';
import { chunk, productCsv, sendUpload, uploadForm } from './lib/upload.ts';

const MB = 1024 * 1024;
const SAMPLE_MS = 500;

/** One reading of the process, at `t` seconds into the run. */
export interface SoakSample {
  t: number;
  rssMB: number;
  heapUsedMB: number;
  externalMB: number;
  handles: number;
  /** Open handles by kind (TCPWrap, Timeout, FSReqCallback, …). */
  handleKinds: Record<string, number>;
}

function sample(started: number): SoakSample {
  const memory = process.memoryUsage();
  const kinds = process.getActiveResourcesInfo();
  const handleKinds: Record<string, number> = {};
  for (const kind of kinds) handleKinds[kind] = (handleKinds[kind] ?? 0) + 1;
  return {
    t: round((Date.now() - started) / 1000),
    rssMB: round(memory.rss / MB),
    heapUsedMB: round(memory.heapUsed / MB),
    externalMB: round(memory.external / MB),
    handles: kinds.length,
    handleKinds,
  };
}

/** The small photos only (no index ending in 9, where the photo set puts its 6 MP photo). */
function smallPhotoUrls(baseUrl: string, count: number): string[] {
  return Array.from({ length: count }, (_, k) => {
    const n = k + Math.floor(k / 9);
    return `${baseUrl}/photo.jpg?n=${n}&run=soak-${k}`;
  });
}

const args = childArgs();
const n = intArg(args, 'n');
const service = await startFullService({ WORKER_CONCURRENCY: String(intArg(args, 'concurrency')) });
const form = uploadForm(productCsv(chunk(smallPhotoUrls(stringArg(args, 'photoBaseUrl'), n), 10)));
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const before = sample(Date.now());

const samples: SoakSample[] = [];
let status = '';
const { report } = await measureWindow(async () => {
  const started = Date.now();
  const timer = setInterval(() => samples.push(sample(started)), SAMPLE_MS);
  try {
    const answer = await sendUpload(service.url, service.token, form);
    if (!answer.requestId) throw new Error(`The upload was refused: ${answer.errors}`);
    status = await waitForEnd(service.app, answer.requestId);
  } finally {
    clearInterval(timer);
  }
});

gc?.();
const after = sample(Date.now());
await service.stop();
emitResult({
  n,
  status,
  seconds: round(report.seconds, 2),
  imagesPerSecond: round(n / report.seconds, 2),
  peakRssMB: Math.max(report.startupPeakRssMB, peakRssMB()),
  before,
  after,
  samples,
});
process.exit(0);
