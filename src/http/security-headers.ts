import type { IncomingMessage } from 'node:http';

import cors from 'cors';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/** HSTS for a year, subdomains included; sent only on answers that went out over HTTPS. */
const HSTS = 'max-age=31536000; includeSubDomains';

/** A Host header that is a plain host and port, so it cannot add anything to the policy. */
const PLAIN_HOST = /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/;

/** The page's own host, as a WebSocket origin, for `connect-src`. */
const sameHostSocket =
  (scheme: 'ws' | 'wss') =>
  (req: IncomingMessage): string => {
    const host = req.headers.host ?? '';
    return `${scheme}://${PLAIN_HOST.test(host) ? host : 'localhost'}`;
  };

/**
 * helmet's headers, with a Content-Security-Policy that lets the dashboard and the GraphQL
 * playground (same-origin scripts, styles, fonts and workers, editor styles set inline) talk
 * to `/graphql` over HTTP and WebSocket on the same host, and nothing else. Images may come
 * from any host: the dashboard shows input images from wherever a catalogue points (often plain
 * HTTP) and outputs from `PUBLIC_URL` or S3, which need not be the page's own origin; an image
 * runs no code. `upgrade-insecure-requests` is left out so a
 * plain-HTTP development server keeps working; HSTS is sent only on HTTPS answers: direct
 * TLS, or `X-Forwarded-Proto: https` from a trusted proxy (Express's `req.secure`).
 */
export function securityHeaders(): RequestHandler[] {
  return [
    helmet({
      contentSecurityPolicy: {
        useDefaults: true,
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'style-src': ["'self'", "'unsafe-inline'"],
          'img-src': ["'self'", 'data:', 'blob:', 'http:', 'https:'],
          'font-src': ["'self'", 'data:'],
          'worker-src': ["'self'", 'blob:'],
          'connect-src': ["'self'", sameHostSocket('ws'), sameHostSocket('wss')],
          'upgrade-insecure-requests': null,
        },
      },
      strictTransportSecurity: false,
    }),
    (req, res, next) => {
      if (req.secure) res.setHeader('Strict-Transport-Security', HSTS);
      next();
    },
  ];
}

/**
 * Cross-origin access for browsers: only the listed origins get CORS headers (and a preflight
 * answer); with none listed, pages of other origins cannot call the API. Credentials (cookies)
 * are never allowed: the API reads only `Authorization: Bearer`.
 *
 * @param origins - exact origins such as `https://app.example.com`
 */
export function corsPolicy(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return cors({
    origin: (origin, callback) => {
      callback(null, origin !== undefined && allowed.has(origin));
    },
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: [
      'authorization',
      'content-type',
      'apollo-require-preflight',
      'x-apollo-operation-name',
      'x-request-id',
    ],
    exposedHeaders: ['retry-after', 'ratelimit', 'ratelimit-policy', 'x-request-id', 'location'],
    credentials: false,
    maxAge: 600,
  });
}
