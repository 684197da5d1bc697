import http from 'node:http';

import { percentile } from './stats.ts';

/** One request, as the paced load sends it again and again. */
export interface PacedRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

/** What a paced load saw. */
export interface PacedResult {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  responses: number;
  non2xx: number;
  errors: number;
  /** Seconds from the first request sent to the last answer. */
  seconds: number;
}

/**
 * An open-loop load: `rate` requests a second sent at even intervals, whatever the answers do,
 * for `seconds`, taking turns over `connections` keep-alive connections (the clients: request i
 * goes on connection i mod `connections`). Each latency runs from the moment its request was
 * due, so time a request spent waiting behind its connection's previous one counts.
 *
 * autocannon's `overallRate` sends each second's requests in a burst at the start of the
 * second, so its latencies measure the queue of that burst, not the service.
 */
export async function pacedLoad(
  request: PacedRequest,
  options: { rate: number; connections: number; seconds: number },
): Promise<PacedResult> {
  const agents = Array.from(
    { length: options.connections },
    () => new http.Agent({ keepAlive: true, maxSockets: 1 }),
  );
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const intervalMs = 1000 / options.rate;
  const start = performance.now();

  const send = (dueAt: number, agent: http.Agent) =>
    new Promise<void>((resolve) => {
      const req = http.request(
        request.url,
        { method: request.method, headers: request.headers, agent },
        (res) => {
          res.resume();
          res.once('end', () => {
            latencies.push(performance.now() - dueAt);
            if ((res.statusCode ?? 0) >= 300) non2xx += 1;
            resolve();
          });
        },
      );
      req.once('error', () => {
        errors += 1;
        resolve();
      });
      req.end(request.body);
    });

  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const dueAt = start + i * intervalMs;
    const wait = dueAt - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(send(dueAt, agents[i % agents.length] as http.Agent));
  }
  await Promise.all(pending);
  const seconds = (performance.now() - start) / 1000;
  for (const agent of agents) agent.destroy();

  latencies.sort((a, b) => a - b);
  const ms = (value: number) => Math.round(value * 10) / 10;
  return {
    p50Ms: ms(percentile(latencies, 50)),
    p99Ms: ms(percentile(latencies, 99)),
    maxMs: ms(latencies.at(-1) ?? Number.NaN),
    responses: latencies.length,
    non2xx,
    errors,
    seconds,
  };
}
