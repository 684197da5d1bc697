import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';

import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../src/config.ts';
import { defaultWebDir, webRoutes } from '../src/http/web.ts';
import { createLogger } from '../src/observability/logger.ts';
import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** The `<script …>` opening tags of a page. */
function scriptTags(html: string): string[] {
  return html.match(/<script\b[^>]*>/g) ?? [];
}

describe('the pages served by the service', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(async () => {
    await service.stop();
  });

  it('answers a browser at GET /graphql with the playground page, scripts from files only', async () => {
    const res = await fetch(`${service.url}/graphql`, { headers: { accept: HTML } });
    const html = await res.text();

    expect(res.status).toBe(200);
    expect(html).toContain('GraphQL playground');
    expect(scriptTags(html)).toEqual([expect.stringMatching(/src="\/assets\/playground-/)]);
  });

  it('serves the dashboard at / for revalidation and its hashed assets for a year', async () => {
    const page = await fetch(`${service.url}/`);
    const html = await page.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1] ?? '';
    const script = await fetch(`${service.url}${asset}`);

    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(scriptTags(html)).toEqual([expect.stringMatching(/src="\/assets\/dashboard-/)]);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('runs GraphQL GETs with a query from a browser as JSON (no Apollo landing page), CSRF prevention on', async () => {
    const url = `${service.url}/graphql?query=${encodeURIComponent('{ __typename }')}`;
    const auth = { authorization: `Bearer ${service.token()}`, accept: HTML };
    const blocked = await fetch(url, { headers: auth });
    const allowed = await fetch(url, { headers: { ...auth, 'apollo-require-preflight': 'true' } });

    expect(blocked.status).toBe(400);
    expect(await allowed.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('leaves a GraphQL client GET without a query to Apollo', async () => {
    const res = await fetch(`${service.url}/graphql`, {
      headers: {
        accept: 'application/json',
        'apollo-require-preflight': 'true',
        authorization: `Bearer ${service.token()}`,
      },
    });

    expect(res.status).toBe(400);
    expect(await res.text()).not.toMatch(/<html|landing/i);
  });
});

describe('the pages without a build, or with the playground off', () => {
  let server: http.Server;
  let base: string;
  let emptyDir: string;
  const logged: string[] = [];

  beforeAll(async () => {
    emptyDir = await mkdtemp(path.join(os.tmpdir(), 'image-pipeline-web-'));
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => logged.push(chunk.toString()));
    const logger = createLogger({ level: 'info', format: 'json', stream });
    const app = express();
    app.use('/unbuilt', webRoutes({ distDir: emptyDir, playground: true, logger }));
    app.use('/off', webRoutes({ distDir: defaultWebDir(), playground: false, logger }));
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(emptyDir, { recursive: true, force: true });
  });

  it('explains a missing build at / and logs it once at start', async () => {
    const res = await fetch(`${base}/unbuilt/`);

    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build:web');
    expect(logged.join('')).toContain('web dashboard not built');
  });

  it('says the playground is off when PLAYGROUND=false', async () => {
    const res = await fetch(`${base}/off/graphql`, { headers: { accept: HTML } });

    expect(res.status).toBe(404);
    expect(await res.text()).toContain('PLAYGROUND=false');
  });

  it('reads PLAYGROUND as a boolean, true unless set', () => {
    expect(loadConfig({}).playground).toBe(true);
    expect(loadConfig({ PLAYGROUND: 'false' }).playground).toBe(false);
    expect(() => loadConfig({ PLAYGROUND: 'maybe' })).toThrow(ConfigError);
  });
});
