import { existsSync } from 'node:fs';
import path from 'node:path';

import express from 'express';
import type { Request, RequestHandler, Response, Router } from 'express';

import type { Logger } from '../observability/logger.ts';

/** Hashed file names change with their content, so browsers may keep them for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Pages keep their URL across builds, so browsers check them again each time (ETag). */
const REVALIDATE = 'no-cache';

const NOT_BUILT =
  'The web dashboard has not been built, so there is nothing to show here yet.\n' +
  'Run `npm run build:web` (or `npm ci`, which builds it) and reload this page.\n' +
  'The API itself works: POST /graphql, ws://…/graphql and /api/… answer as usual.\n';

const PLAYGROUND_OFF =
  'The GraphQL playground is turned off on this server (PLAYGROUND=false).\n' +
  'The API answers POST /graphql and GraphQL GET requests with a query.\n';

/** Options of {@link webRoutes}. */
export interface WebOptions {
  /** The folder `vite build` wrote: index.html, playground.html and assets/. */
  distDir: string;
  /** Whether GET /graphql from a browser answers the GraphiQL page. */
  playground: boolean;
  logger: Logger;
}

/**
 * The package's web/dist folder, found by walking up from this file to the nearest
 * package.json, so `npm start` (src/) and the compiled service (dist/src/) find the same one.
 */
export function defaultWebDir(): string {
  let dir = import.meta.dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) {
    dir = path.dirname(dir);
  }
  return path.join(dir, 'web', 'dist');
}

/**
 * Whether a GET on /graphql is a person's browser asking for a page rather than a GraphQL
 * client: it carries no `query` and prefers HTML to JSON. GraphQL GETs keep going to Apollo.
 */
function wantsPage(req: Request): boolean {
  if (req.query.query !== undefined) return false;
  return (
    req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) ===
    'text/html'
  );
}

function explain(res: Response, status: number, text: string): void {
  res.status(status).type('text/plain').set('Cache-Control', 'no-store').send(text);
}

/**
 * Serves the dashboard at / and the GraphQL playground at GET /graphql from `distDir`. A
 * missing build is logged once and answered with a short explanation, never a crash.
 */
export function webRoutes(options: WebOptions): Router {
  const { distDir, playground, logger } = options;
  if (!existsSync(path.join(distDir, 'index.html'))) {
    logger.warn('web dashboard not built: run `npm run build:web`; / explains this meanwhile', {
      distDir,
    });
  }
  const router = express.Router();

  const page =
    (file: string): RequestHandler =>
    (_req, res) => {
      res.set('Cache-Control', REVALIDATE);
      res.sendFile(path.join(distDir, file), (error?: Error) => {
        if (error && !res.headersSent) explain(res, 503, NOT_BUILT);
      });
    };

  router.get('/graphql', (req, res, next) => {
    if (!wantsPage(req)) {
      next();
      return;
    }
    if (!playground) {
      explain(res, 404, PLAYGROUND_OFF);
      return;
    }
    page('playground.html')(req, res, next);
  });
  router.get(['/', '/index.html'], page('index.html'));
  router.get('/playground.html', (_req, res) => {
    // Served only as /graphql, where the playground switch applies.
    res.redirect(308, '/graphql');
  });
  router.use(
    express.static(distDir, {
      index: false,
      dotfiles: 'ignore',
      setHeaders: (res, file) => {
        res.setHeader(
          'Cache-Control',
          file.includes(`${path.sep}assets${path.sep}`) ? IMMUTABLE : REVALIDATE,
        );
      },
    }),
  );
  return router;
}
