import autocannon from 'autocannon';

import type { ServerStats } from '../service.server.ts';
import type { BenchOptions } from './cli.ts';
import { round } from './measure.ts';
import type { ChildService } from './service-child.ts';
import {
  control,
  startChild,
  startGatedPhotoServer,
  stopChild,
  uploadPhotos,
} from './service-child.ts';
import { pacedLoad } from './paced-load.ts';
import { median } from './stats.ts';

/** The p99 the GraphQL progress query must stay under, in ms. */
const GRAPHQL_P99_TARGET_MS = 50;

const PROGRESS_QUERY = `query Progress($id: ID!) {
  request(id: $id) { id status progress { total completed failed pending percent } }
}`;

type TargetName = 'healthz' | 'graphqlProgress' | 'restStatus' | 'stackFloor';

/** The service, and the bare stack it is built on (bench/stack-floor.server.ts). */
interface Servers {
  service: ChildService;
  floor: ChildService;
}

/** One load of one target: what autocannon saw and what it cost the service. */
interface TargetRun {
  target: TargetName;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requestsPerSecond: number;
  responses: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** The service's CPU time during the load divided by the responses, in ms. */
  serviceCpuMsPerRequest: number;
}

/** The server a target loads. */
function serverOf(target: TargetName, servers: Servers): ChildService {
  return target === 'stackFloor' ? servers.floor : servers.service;
}

function requestFor(target: TargetName, servers: Servers, requestId: string) {
  const service = serverOf(target, servers);
  const auth = { authorization: `Bearer ${service.token}` };
  switch (target) {
    case 'healthz':
      return { url: `${service.url}/healthz`, method: 'GET' as const, headers: {} };
    case 'graphqlProgress':
    case 'stackFloor':
      return {
        url: `${service.url}/graphql`,
        method: 'POST' as const,
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ query: PROGRESS_QUERY, variables: { id: requestId } }),
      };
    case 'restStatus':
      return {
        url: `${service.url}/api/status/${requestId}`,
        method: 'GET' as const,
        headers: auth,
      };
    default:
      throw new Error(`Unknown target ${String(target satisfies never)}`);
  }
}

/** Runs one load and adds the service's CPU time per answer, read before and after it. */
async function withServiceCpu(
  service: ChildService,
  run: () => Promise<Omit<TargetRun, 'serviceCpuMsPerRequest'>>,
): Promise<TargetRun> {
  const before = await control<ServerStats>(service, '/stats');
  const result = await run();
  const after = await control<ServerStats>(service, '/stats');
  const cpuMs = after.cpuMs - before.cpuMs;
  return { ...result, serviceCpuMsPerRequest: round(cpuMs / Math.max(1, result.responses), 2) };
}

/** `options.connections` clients, each sending its next request once answered (autocannon). */
function load(
  target: TargetName,
  servers: Servers,
  requestId: string,
  options: BenchOptions,
): Promise<TargetRun> {
  return withServiceCpu(serverOf(target, servers), async () => {
    const result = await autocannon({
      ...requestFor(target, servers, requestId),
      connections: options.connections,
      duration: options.readSeconds,
      timeout: 30,
    });
    const responses = result['2xx'] + result.non2xx;
    return {
      target,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
      requestsPerSecond: round(responses / result.duration),
      responses,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
    };
  });
}

/** The same target at `options.readRate` requests a second, evenly spaced (see pacedLoad). */
function loadPaced(
  target: TargetName,
  servers: Servers,
  requestId: string,
  options: BenchOptions,
): Promise<TargetRun> {
  return withServiceCpu(serverOf(target, servers), async () => {
    const result = await pacedLoad(requestFor(target, servers, requestId), {
      rate: options.readRate,
      connections: options.connections,
      seconds: options.readSeconds,
    });
    return {
      target,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      maxMs: result.maxMs,
      requestsPerSecond: round(result.responses / result.seconds),
      responses: result.responses,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: 0,
    };
  });
}

/** Medians of one target's runs, and its throughput against the `healthz` baseline. */
function figuresOf(runs: TargetRun[], baselineRps: number) {
  const of = (pick: (r: TargetRun) => number) => round(median(runs.map(pick)), 2);
  const requestsPerSecond = of((r) => r.requestsPerSecond);
  return {
    p50Ms: of((r) => r.p50Ms),
    p99Ms: of((r) => r.p99Ms),
    requestsPerSecond,
    ratioToHealthz: round(requestsPerSecond / baselineRps, 3),
    serviceCpuMsPerRequest: of((r) => r.serviceCpuMsPerRequest),
    perRun: runs.map((r) => ({ p50: r.p50Ms, p99: r.p99Ms, rps: r.requestsPerSecond })),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    timeouts: runs.reduce((n, r) => n + r.timeouts, 0),
  };
}

const TARGETS: readonly TargetName[] = ['healthz', 'graphqlProgress', 'restStatus', 'stackFloor'];

/** How long the service may stay busy with requests left over from a load. */
const IDLE_WAIT_MS = 300_000;

/**
 * Resolves once the service has used under 20% of a core over one second (its backlog of
 * answers is done; each reading runs a full collection, some tens of ms), or after IDLE_WAIT_MS.
 */
async function waitIdle(service: ChildService): Promise<void> {
  const deadline = Date.now() + IDLE_WAIT_MS;
  let last = await control<ServerStats>(service, '/stats');
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const next = await control<ServerStats>(service, '/stats');
    if (next.cpuMs - last.cpuMs < 200) return;
    last = next;
  }
}

/**
 * The `reads` scenario: the service in a child process holds one request of
 * `options.readImages` images (its downloads held back, so it stays in progress and the reads
 * see a running request); autocannon in this process loads each target with
 * `options.connections` clients for `options.readSeconds`. `GET /healthz`, the cheapest route
 * through the same HTTP stack, is the baseline measured in the same run; `stackFloor` is the
 * same progress query against Apollo Server 5 on Express 5 with nothing of the service in it
 * (a second child, bench/stack-floor.server.ts), the most a GraphQL read can reach on this
 * stack and machine. The targets take turns (reversed on every other repeat) so a change in
 * machine load falls on all of them.
 */
export async function benchReads(options: BenchOptions, print: (line: string) => void) {
  const photos = await startGatedPhotoServer();
  const service = await startChild({ SHUTDOWN_GRACE_MS: '1000' });
  const floor = await startChild({}, 'stack-floor.server.ts');
  const servers = { service, floor };
  try {
    const requestId = await uploadPhotos(service, photos.url, options.readImages);
    const runs: TargetRun[] = [];
    const paced: TargetRun[] = [];
    for (let r = 0; r < options.repeat; r++) {
      const order = r % 2 === 0 ? TARGETS : [...TARGETS].reverse();
      for (const target of order) {
        runs.push(await load(target, servers, requestId, options));
        // Requests still queued when a load ends keep the server busy; the next load waits.
        await waitIdle(serverOf(target, servers));
      }
      // The loads above wait for each answer before the next request (a closed loop), so their
      // latency is at least connections / throughput. At a fixed rate below saturation it is
      // the service's own time per request.
      paced.push(await loadPaced('graphqlProgress', servers, requestId, options));
      await waitIdle(service);
    }
    const stats = await control<ServerStats>(service, '/stats');

    const healthz = figuresOf(
      runs.filter((r) => r.target === 'healthz'),
      1,
    );
    const targets = Object.fromEntries(
      TARGETS.map((t) => [
        t,
        figuresOf(
          runs.filter((r) => r.target === t),
          healthz.requestsPerSecond,
        ),
      ]),
    ) as Record<TargetName, ReturnType<typeof figuresOf>>;
    const lines = TARGETS.map((t) => {
      const f = targets[t];
      return (
        `reads ${t} (${options.readImages} images, ${options.connections} clients, ${options.readSeconds} s x ${options.repeat}):` +
        ` p50 ${f.p50Ms} ms p99 ${f.p99Ms} ms ${f.requestsPerSecond} req/s` +
        ` ratio to healthz ${f.ratioToHealthz.toFixed(2)} service cpu/req ${f.serviceCpuMsPerRequest} ms` +
        ` non2xx ${f.non2xx} errors ${f.errors} timeouts ${f.timeouts}`
      );
    });
    const pacedFigures = figuresOf(paced, healthz.requestsPerSecond);
    lines.push(
      `reads graphqlProgress paced at ${options.readRate} req/s over ${options.connections} clients:` +
        ` p50 ${pacedFigures.p50Ms} ms p99 ${pacedFigures.p99Ms} ms ${pacedFigures.requestsPerSecond} req/s`,
    );
    const met = (f: { p99Ms: number; requestsPerSecond: number }) =>
      f.requestsPerSecond > 0 && f.p99Ms < GRAPHQL_P99_TARGET_MS ? 'met' : 'NOT met';
    lines.push(
      `  graphqlProgress p99 target < ${GRAPHQL_P99_TARGET_MS} ms: saturated ${met(targets.graphqlProgress)},` +
        ` paced ${met(pacedFigures)}; service peakRSS ${stats.peakRssMB} MB`,
      `  the stack's floor (Apollo Server 5 on Express 5, a constant answer) saturated: ${met(targets.stackFloor)};` +
        ` graphqlProgress req/s ÷ floor's ${round(targets.graphqlProgress.requestsPerSecond / Math.max(1, targets.stackFloor.requestsPerSecond), 3)}`,
    );
    lines.forEach(print);
    return {
      requestId,
      targets,
      paced: { rate: options.readRate, ...pacedFigures },
      servicePeakRssMB: stats.peakRssMB,
      runs: [...runs, ...paced],
    };
  } finally {
    photos.close();
    await stopChild(floor.child);
    await stopChild(service.child);
  }
}
