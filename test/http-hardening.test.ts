import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { selfSignedCertificate } from './helpers/self-signed.ts';
import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import { PROGRESS_SUBSCRIPTION, wsUrl } from './helpers/ws.ts';
import { productsInMemory } from '../src/csv/csv.spool.ts';
import { resolveProcessingOptions } from '../src/services/processing-options.ts';

const CSV = 'S. No.,Product Name,Input Image Urls\n1,A,http://127.0.0.1:9/a.jpg\n';

/** A REST upload of `CSV`; `headers` are added as they are (forwarded headers, a token). */
function restUpload(service: TestService, headers: Record<string, string>) {
  const form = new FormData();
  form.append('file', new Blob([CSV], { type: 'text/csv' }), 'p.csv');
  return fetch(`${service.url}/api/upload`, { method: 'POST', headers, body: form });
}

const anonymousCall = (service: TestService, headers: Record<string, string> = {}) =>
  fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: '{ requests { edges { cursor } } }' }),
  });

/**
 * HTTPS and WSS served directly. The certificate is made at run time with the system's
 * `openssl` (self-signed, for 127.0.0.1 and localhost), so nothing secret is committed.
 */
describe('TLS_CERT_FILE and TLS_KEY_FILE', () => {
  let service: TestService;
  let dir: string;
  let ca: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tls-test-'));
    const made = await selfSignedCertificate(dir, 'localhost', ['IP:127.0.0.1', 'DNS:localhost']);
    ca = made.cert;
    service = await startTestService({ TLS_CERT_FILE: made.certFile, TLS_KEY_FILE: made.keyFile });
  });
  afterAll(async () => {
    await service.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function postGraphql(query: string, token: string) {
    return new Promise<{ status: number; hsts: unknown; body: string }>((resolve, reject) => {
      const req = https.request(`${service.url}/graphql`, {
        method: 'POST',
        ca,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            hsts: res.headers['strict-transport-security'],
            body,
          });
        });
      });
      req.on('error', reject);
      req.end(JSON.stringify({ query }));
    });
  }

  it('answers GraphQL over HTTPS, with HSTS', async () => {
    const res = await postGraphql('{ requests { edges { cursor } } }', service.token());

    expect(service.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ data: { requests: { edges: [] } } });
    expect(res.hsts).toMatch(/max-age=\d+/);
  });

  it('serves a graphql-ws subscription over WSS', async () => {
    const viewer = { subject: 'alice', isAdmin: false };
    const request = await service.service.app.requestService.create(
      viewer,
      productsInMemory([{ serialNumber: 1, name: 'A', imageUrls: ['http://127.0.0.1:9/a.jpg'] }]),
      {
        fileName: null,
        webhookUrl: null,
        options: resolveProcessingOptions(null, 50),
      },
    );
    class TrustingSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { ca });
      }
    }
    const client = createClient({
      url: wsUrl(service.url),
      webSocketImpl: TrustingSocket,
      connectionParams: { authorization: `Bearer ${service.token()}` },
      retryAttempts: 0,
    });

    const first = await new Promise<unknown>((resolve, reject) => {
      const stop = client.subscribe(
        { query: PROGRESS_SUBSCRIPTION, variables: { id: request.id } },
        {
          next: (value) => {
            stop();
            resolve(value);
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    await client.dispose();

    expect(wsUrl(service.url)).toMatch(/^wss:/);
    expect(first).toMatchObject({ data: { requestProgress: { requestId: request.id } } });
  });
});

describe('TRUST_PROXY', () => {
  let proxied: TestService;
  let direct: TestService;

  beforeAll(async () => {
    const limits = { RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_UPLOADS: '100' };
    [proxied, direct] = await Promise.all([
      startTestService({ ...limits, TRUST_PROXY: '1' }),
      startTestService(limits),
    ]);
  });
  afterAll(async () => {
    await Promise.all([proxied.stop(), direct.stop()]);
  });

  it('counts calls by the forwarded client address when the proxy is trusted', async () => {
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    for (let i = 0; i < 3; i++) await anonymousCall(proxied, from('203.0.113.5'));

    const over = await anonymousCall(proxied, from('203.0.113.5'));
    const otherClient = await anonymousCall(proxied, from('203.0.113.6'));

    expect(over.status).toBe(429);
    expect(otherClient.status).toBe(401);
  });

  it('ignores X-Forwarded-For when TRUST_PROXY is false: every caller is the socket address', async () => {
    for (let i = 0; i < 3; i++) {
      await anonymousCall(direct, { 'x-forwarded-for': `198.51.100.${i}` });
    }

    const over = await anonymousCall(direct, { 'x-forwarded-for': '198.51.100.99' });

    expect(over.status).toBe(429);
  });

  it('builds the status URL from the forwarded scheme and host, and sends HSTS for https', async () => {
    const res = await restUpload(proxied, {
      authorization: `Bearer ${proxied.token('proxy-user')}`,
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'images.example.com',
      'x-forwarded-for': '203.0.113.20',
    });
    const body = (await res.json()) as { statusUrl?: string };

    expect(res.status).toBe(202);
    expect(body.statusUrl).toMatch(/^https:\/\/images\.example\.com\/api\/status\/[0-9a-f-]{36}$/);
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
  });

  it('keeps its own scheme and host, and sends no HSTS, when the proxy is not trusted', async () => {
    const res = await restUpload(direct, {
      authorization: `Bearer ${direct.token('direct-user')}`,
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'images.example.com',
    });
    const body = (await res.json()) as { statusUrl?: string };

    expect(res.status).toBe(202);
    expect(body.statusUrl).toMatch(/^http:\/\/localhost:\d+\/api\/status\//);
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });
});

describe('security headers and CORS', () => {
  let open: TestService;
  let closed: TestService;

  beforeAll(async () => {
    [open, closed] = await Promise.all([
      startTestService({ CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' }),
      startTestService(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([open.stop(), closed.stop()]);
  });

  const preflight = (service: TestService, origin: string) =>
    fetch(`${service.url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });

  it('sends a CSP that allows same-origin scripts and sockets to this host only, and no HSTS over HTTP', async () => {
    const res = await fetch(`${closed.url}/healthz`);
    const csp = res.headers.get('content-security-policy') ?? '';
    const host = new URL(closed.url).host;

    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host}`);
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });

  it('answers a preflight from a listed origin with that origin and the headers it needs', async () => {
    const res = await preflight(open, 'https://admin.example.com');

    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://admin.example.com');
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('gives a preflight from an unlisted origin no CORS headers', async () => {
    const res = await preflight(open, 'https://evil.example.net');

    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows no other origin at all when CORS_ORIGINS is unset', async () => {
    const res = await preflight(closed, 'https://app.example.com');
    const call = await fetch(`${closed.url}/graphql`, {
      method: 'POST',
      headers: { origin: 'https://app.example.com', 'content-type': 'application/json' },
      body: '{"query":"{ __typename }"}',
    });

    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(call.headers.get('access-control-allow-origin')).toBeNull();
  });
});
