import { createHash, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import type { Request, RequestHandler } from 'express';
import { Router } from 'express';

import type { Metrics } from '../observability/metrics.ts';
import { sendError } from './rest/rest.errors.ts';

/** Mounts served by middleware rather than a route, labelled by their prefix. */
const MOUNTS = ['/graphql', '/files'];

/** The route pattern of a request, never its path, so labels stay few: ids are not in them. */
function routeOf(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof route === 'string') return route;
  const path = req.originalUrl.split('?')[0] ?? '';
  return MOUNTS.find((mount) => path === mount || path.startsWith(`${mount}/`)) ?? 'unmatched';
}

/** Times every HTTP request into the metrics of the app serving it (none before it is built). */
export function httpMetrics(getMetrics: () => Metrics | undefined): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      getMetrics()?.httpRequest(req.method, routeOf(req), res.statusCode, seconds);
    });
    next();
  };
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * `GET /metrics` in the Prometheus text format. With `token` set, only a request carrying
 * `Authorization: Bearer <token>` is answered; any other gets 401.
 */
export function metricsRoutes(getMetrics: () => Metrics | undefined, token?: string): Router {
  const router = Router();

  router.get('/metrics', async (req, res) => {
    if (token !== undefined) {
      const given = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
      if (given === undefined || !sameSecret(given, token)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        sendError(res, 'UNAUTHENTICATED', 'Send Authorization: Bearer with METRICS_TOKEN.');
        return;
      }
    }
    const metrics = getMetrics();
    if (!metrics) {
      res.status(503).type('text/plain').send('starting\n');
      return;
    }

    const { contentType, body } = await metrics.text();
    res.status(200).type(contentType).send(body);
  });

  return router;
}
