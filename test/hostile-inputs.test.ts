import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';

import { FetchError } from '../src/net/fetch-error.ts';
import { safeFetch } from '../src/net/safe-fetch.ts';
import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import { PROGRESS_SUBSCRIPTION, wsUrl } from './helpers/ws.ts';

/**
 * Hostile inputs against one service, each row with the outcome a client sees: an HTTP status
 * and error code, a WebSocket close code, or a fetch refusal code. Every answer body is also
 * checked for leaked internals (stack traces, SQL, library names).
 */

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'image-pipeline';
const LIMITS = {
  MAX_CSV_BYTES: '3000',
  MAX_CSV_ROWS: '5',
  MAX_URLS_PER_ROW: '3',
  MAX_IMAGES_PER_REQUEST: '8',
  MAX_URL_LENGTH: '120',
  MAX_NAME_LENGTH: '40',
  GRAPHQL_MAX_DEPTH: '8',
  GRAPHQL_MAX_ALIASES: '3',
  GRAPHQL_MAX_TOKENS: '400',
  GRAPHQL_MAX_DIRECTIVES: '3',
  GRAPHQL_MAX_COMPLEXITY: '5000',
  WS_MAX_PAYLOAD_BYTES: '2048',
  WS_MAX_CONNECTIONS_PER_SUBJECT: '2',
};

let service: TestService;
let secret: string;
let canary: { url: string; hits: number; server: http.Server };
/** Every answer body the table received, checked at the end for leaked internals. */
const bodies: string[] = [];

beforeAll(async () => {
  const server = http.createServer((_req, res) => {
    canary.hits += 1;
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end('canary');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  canary = { url: `http://127.0.0.2:${(server.address() as AddressInfo).port}`, hits: 0, server };

  service = await startTestService({
    ...LIMITS,
    ALLOW_PRIVATE_NETWORK: 'false',
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    // A string, as a deployment sets it; it must act as the number 30.
    JWT_CLOCK_TOLERANCE_SEC: '30',
  });
  secret = service.service.jwtSecret ?? '';
});
afterAll(async () => {
  await service.stop();
  await new Promise((resolve) => canary.server.close(resolve));
});

// ---- tokens -------------------------------------------------------------------------------

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const claims = (extra: object = {}) => ({
  sub: 'alice',
  iss: ISSUER,
  aud: AUDIENCE,
  iat: now(),
  exp: now() + 3600,
  ...extra,
});
const sign = (payload: object, key = secret, algorithm: jwt.Algorithm = 'HS256') =>
  jwt.sign(payload, key, { algorithm });
const good = () => sign(claims());
/** A token whose header says `alg` but whose signature is an HMAC-SHA256 with the secret. */
const forgedAlg = (alg: string) => {
  const unsigned = `${b64({ alg, typ: 'JWT' })}.${b64(claims())}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
};

/** What a client saw. Absent fields are not compared. */
interface Outcome {
  status?: number;
  code?: string | null;
  close?: number;
  /** The error's message; compared only where a row names it. */
  message?: string;
}

async function answer(res: Response): Promise<Outcome> {
  const text = await res.text();
  bodies.push(text);
  try {
    const body = JSON.parse(text) as {
      errors?: { message?: string; extensions?: { code?: string } }[];
      error?: { code?: string; message?: string };
    };
    const error = body.errors?.[0];
    return {
      status: res.status,
      code: error?.extensions?.code ?? body.error?.code ?? null,
      message: error?.message ?? body.error?.message ?? '',
    };
  } catch {
    return { status: res.status, code: 'NOT_JSON' };
  }
}

const LIST = '{ requests(first: 1) { edges { cursor } } }';

function graphqlCall(
  body: string,
  headers: Record<string, string> = { authorization: `Bearer ${good()}` },
  init: RequestInit = {},
): Promise<Outcome> {
  return fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    ...init,
  }).then(answer);
}
const query = (source: string, token: string | null = good()) =>
  graphqlCall(JSON.stringify({ query: source }), token ? { authorization: `Bearer ${token}` } : {});
const withAuthorization = (value: string) =>
  graphqlCall(JSON.stringify({ query: LIST }), { authorization: value });

const restStatus = (token: string) =>
  fetch(`${service.url}/api/status/${randomUUID()}`, {
    headers: { authorization: `Bearer ${token}` },
  }).then(answer);

// ---- CSV and multipart uploads --------------------------------------------------------------

const HEADER = 'S. No.,Product Name,Input Image Urls';
const csvRows = (...rows: string[]) => [HEADER, ...rows].join('\n') + '\n';
const img = (n: number) => `https://img.example/${n}.jpg`;

async function upload(
  csv: string | Buffer,
  options: { type?: string; fileName?: string; variables?: object } = {},
): Promise<Outcome> {
  const form = new FormData();
  const uploadMutation =
    'mutation($file: Upload!, $webhookUrl: String) { uploadCsv(file: $file, webhookUrl: $webhookUrl) { request { id } } }';
  form.append(
    'operations',
    JSON.stringify({ query: uploadMutation, variables: { file: null, ...options.variables } }),
  );
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append(
    '0',
    new Blob([csv], { type: options.type ?? 'text/csv' }),
    options.fileName ?? 'p.csv',
  );
  return fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${good()}` },
    body: form,
  }).then(answer);
}

/** A multipart body written by hand, for shapes FormData will not make. */
function rawMultipart(
  parts: string,
  headers: Record<string, string> = {
    'apollo-require-preflight': 'true',
    authorization: `Bearer ${good()}`,
  },
): Promise<Outcome> {
  return fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'multipart/form-data; boundary=xx', ...headers },
    body: parts.replaceAll('\n', '\r\n'),
  }).then(answer);
}
const OPS = `--xx
Content-Disposition: form-data; name="operations"

{"query":"mutation($file: Upload!) { uploadCsv(file: $file) { request { id } } }","variables":{"file":null}}
`;
const MAP = `--xx
Content-Disposition: form-data; name="map"

{"0":["variables.file"]}
`;
const FILE = (name = '0') => `--xx
Content-Disposition: form-data; name="${name}"; filename="p.csv"
Content-Type: text/csv

${csvRows(`1,A,${img(1)}`)}`;

function restUpload(csv: string, fields: Record<string, string> = {}): Promise<Outcome> {
  const form = new FormData();
  form.append('file', new Blob([csv], { type: 'text/csv' }), 'p.csv');
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  return fetch(`${service.url}/api/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${good()}` },
    body: form,
  }).then(answer);
}

// ---- fetch guards ---------------------------------------------------------------------------

/** Fetches `url` with names resolved to `address`; the outcome's code is the refusal's. */
async function guardedFetch(url: string, address?: string): Promise<Outcome> {
  const lookup = vi.fn((_host: string) =>
    Promise.resolve([
      { address: address ?? '203.0.113.1', family: address?.includes(':') ? 6 : 4 },
    ]),
  ) as unknown as NonNullable<Parameters<typeof safeFetch>[1]['lookup']>;
  try {
    await safeFetch(url, {
      maxBytes: 1024,
      timeoutMs: 1000,
      maxRedirects: 3,
      allowPrivateNetwork: false,
      lookup,
    });
    return { code: 'FETCHED' };
  } catch (error: unknown) {
    return error instanceof FetchError
      ? { code: error.code, message: error.message }
      : { code: String(error) };
  }
}

// ---- WebSocket frames -----------------------------------------------------------------------

/** Opens a socket, sends `frames` (strings sent as they are), and reports the close code. */
async function wsFrames(frames: (string | object)[], settle = false): Promise<Outcome> {
  const socket = new WebSocket(wsUrl(service.url), 'graphql-transport-ws');
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', resolve));
  await new Promise((resolve) => socket.once('open', resolve));
  for (const [i, frame] of frames.entries()) {
    socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    // Let the server answer each frame before the next: the protocol is stateful.
    if (settle && i < frames.length - 1) {
      await new Promise((resolve) => socket.once('message', resolve));
    }
  }
  const timer = setTimeout(() => {
    socket.close(1000);
  }, 3000);
  const close = await closed;
  clearTimeout(timer);
  return { close };
}
const init = (token: string | null) => ({
  type: 'connection_init',
  payload: token === null ? {} : { authorization: `Bearer ${token}` },
});
const subscribeFrame = (query: string, variables: object = {}) => ({
  id: '1',
  type: 'subscribe',
  payload: { query, variables },
});

/** Sockets of one subject held open while one more tries to connect. */
async function oneConnectionTooMany(): Promise<Outcome> {
  const token = sign(claims({ sub: 'many-tabs' }));
  const held = await Promise.all(
    [1, 2].map(async () => {
      const socket = new WebSocket(wsUrl(service.url), 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify(init(token)));
      await new Promise((resolve) => socket.once('message', resolve));
      return socket;
    }),
  );
  const outcome = await wsFrames([init(token)]);
  for (const socket of held) socket.close(1000);
  return outcome;
}

// ---- the table ------------------------------------------------------------------------------

const deep = (levels: number) =>
  `{ requests { edges { node { ${'products { edges { node { '.repeat(levels)}name${' } } }'.repeat(levels)} } } } }`;

interface Row {
  kind: 'token' | 'url' | 'csv' | 'graphql' | 'multipart' | 'websocket';
  name: string;
  run: () => Promise<Outcome>;
  expected: Outcome;
}

const UNAUTHENTICATED: Outcome = { status: 401, code: 'UNAUTHENTICATED' };
/** Every token refusal reads the same, whichever check failed. */
const UNAUTHENTICATED_MESSAGE = 'A valid bearer token is required.';
const ACCEPTED: Outcome = { status: 200, code: null };
const CSV_INVALID: Outcome = { status: 200, code: 'CSV_INVALID' };
const BAD_INPUT: Outcome = { status: 200, code: 'BAD_USER_INPUT' };
const INVALID_DOCUMENT: Outcome = { status: 400, code: 'GRAPHQL_VALIDATION_FAILED' };

const rows: Row[] = [
  // C-29: algorithms pinned, signatures checked (GraphQL over HTTP)
  {
    kind: 'token',
    name: 'alg none, empty signature',
    run: () => withAuthorization(`Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'garbage signature',
    run: () => withAuthorization(`Bearer ${good().split('.').slice(0, 2).join('.')}.AAAA`),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'HS256 with another secret',
    run: () => query(LIST, sign(claims(), 'another-secret-that-is-long-enough-0123456789')),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'HS512 with the right secret',
    run: () => query(LIST, sign(claims(), secret, 'HS512')),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'header says RS256, HMAC signature',
    run: () => query(LIST, forgedAlg('RS256')),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'header says ES256, HMAC signature',
    run: () => query(LIST, forgedAlg('ES256')),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'payload that is not JSON',
    run: () => withAuthorization(`Bearer ${b64({ alg: 'HS256' })}.bm90IGpzb24.AAAA`),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'ten kilobytes of junk',
    run: () => withAuthorization(`Bearer ${'a'.repeat(10_000)}`),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'two tokens in one header',
    run: () => withAuthorization(`Bearer ${good()} ${good()}`),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'Basic credentials',
    run: () => withAuthorization(`Basic ${Buffer.from('alice:pw').toString('base64')}`),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'token only in the query string',
    run: () =>
      fetch(`${service.url}/graphql?token=${good()}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: LIST }),
      }).then(answer),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'no sub',
    run: () => query(LIST, sign(claims({ sub: undefined }))),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'empty sub',
    run: () => query(LIST, sign(claims({ sub: '' }))),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'a sub holding a NUL byte, which the database cannot store',
    run: () => query(LIST, sign(claims({ sub: 'alice\u0000' }))),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'a sub longer than 256 characters',
    run: () => query(LIST, sign(claims({ sub: 'a'.repeat(257) }))),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'another issuer',
    run: () => query(LIST, sign(claims({ iss: 'https://evil.test' }))),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'no issuer',
    run: () => query(LIST, sign(claims({ iss: undefined }))),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'another audience',
    run: () => query(LIST, sign(claims({ aud: 'other-service' }))),
    expected: UNAUTHENTICATED,
  },
  // C-30: expiry and not-before with JWT_CLOCK_TOLERANCE_SEC="30"
  {
    kind: 'token',
    name: 'expired an hour ago',
    run: () => query(LIST, sign(claims({ iat: now() - 7200, exp: now() - 3600 }))),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'expired 40 s ago, past the 30 s tolerance',
    run: () => query(LIST, sign(claims({ iat: now() - 600, exp: now() - 40 }))),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'expired 10 s ago, within the tolerance',
    run: () => query(LIST, sign(claims({ iat: now() - 600, exp: now() - 10 }))),
    expected: ACCEPTED,
  },
  {
    kind: 'token',
    name: 'nbf 5 s ahead, within the tolerance',
    run: () => query(LIST, sign(claims({ nbf: now() + 5 }))),
    expected: ACCEPTED,
  },
  {
    kind: 'token',
    name: 'nbf an hour ahead',
    run: () => query(LIST, sign(claims({ nbf: now() + 3600 }))),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'exp a minute ahead',
    run: () => query(LIST, sign(claims({ exp: now() + 60 }))),
    expected: ACCEPTED,
  },
  // the same verifier on REST
  {
    kind: 'token',
    name: 'REST status with alg none',
    run: () => restStatus(`${b64({ alg: 'none' })}.${b64(claims())}.`),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'REST status with another secret',
    run: () => restStatus(sign(claims(), 'another-secret-that-is-long-enough-0123456789')),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'token',
    name: 'REST status of an unknown id with a good token',
    run: () => restStatus(good()),
    expected: { status: 404, code: 'NOT_FOUND' },
  },
  // ... and on WebSocket connection_init (C-12)
  {
    kind: 'websocket',
    name: 'connection_init without a token',
    run: () => wsFrames([init(null)]),
    expected: { close: 4403 },
  },
  {
    kind: 'websocket',
    name: 'connection_init with alg none',
    run: () =>
      wsFrames([
        {
          type: 'connection_init',
          payload: { authorization: `Bearer ${b64({ alg: 'none' })}.${b64(claims())}.` },
        },
      ]),
    expected: { close: 4403 },
  },
  {
    kind: 'websocket',
    name: 'connection_init with HS512',
    run: () => wsFrames([init(sign(claims(), secret, 'HS512'))]),
    expected: { close: 4403 },
  },
  {
    kind: 'websocket',
    name: 'connection_init with a token expired an hour ago',
    run: () => wsFrames([init(sign(claims({ exp: now() - 3600 })))]),
    expected: { close: 4403 },
  },
  {
    kind: 'websocket',
    name: 'connection_init with a token issued an hour from now',
    run: () => wsFrames([init(sign(claims({ iat: now() + 3600 })))]),
    expected: { close: 4403 },
  },
  {
    kind: 'websocket',
    name: 'connection_init with a token not valid before an hour from now',
    run: () => wsFrames([init(sign(claims({ nbf: now() + 3600 })))]),
    expected: { close: 4403 },
  },

  // C-26: fetch guards, names resolved by an injected lookup, refused before any connection and
  // without telling the uploader the address the name resolved to
  ...(
    [
      ['a name that resolves to loopback', '127.0.0.1', 'a loopback address'],
      [
        'a name that resolves to the metadata address',
        '169.254.169.254',
        'a cloud metadata service address',
      ],
      ['a name that resolves to a private address', '10.1.2.3', 'a private network address'],
      ['a name that resolves to CGNAT space', '100.64.1.1', 'a carrier-grade NAT address'],
      ['a name that resolves to link-local', '169.254.10.10', 'a link-local address'],
      ['a name that resolves to multicast', '224.0.0.251', 'a multicast address'],
      ['a name that resolves to IPv6 loopback', '::1', 'a loopback address'],
      ['a name that resolves to IPv6 unique-local', 'fd12::1', 'a private network address'],
      ['a name that resolves to IPv4-mapped loopback', '::ffff:7f00:1', 'a loopback address'],
      ['a name that resolves to 0.0.0.0', '0.0.0.0', 'an unspecified address'],
    ] as const
  ).map(([name, address, kind]): Row => ({
    kind: 'url',
    name,
    run: () => guardedFetch('http://images.example/x.jpg', address),
    expected: {
      code: 'BLOCKED_ADDRESS',
      message: `The host images.example resolves to ${kind}, which is not allowed`,
    },
  })),
  ...(
    [
      ['the canary by IPv4 literal', () => `${canary.url}/x.jpg`],
      ['the canary in decimal', () => `http://2130706434:${new URL(canary.url).port}/x.jpg`],
      ['the canary in hex', () => `http://0x7f.0.0.2:${new URL(canary.url).port}/x.jpg`],
      [
        'IPv4-mapped IPv6 loopback',
        () => `http://[::ffff:127.0.0.2]:${new URL(canary.url).port}/x.jpg`,
      ],
      [
        'localhost with a trailing dot',
        () => `http://localhost.:${new URL(canary.url).port}/x.jpg`,
      ],
      ['[::]', () => `http://[::]:${new URL(canary.url).port}/x.jpg`],
    ] as const
  ).map(([name, url]): Row => ({
    kind: 'url',
    name,
    run: () => guardedFetch(url()),
    expected: { code: 'BLOCKED_ADDRESS' },
  })),
  {
    kind: 'url',
    name: 'file:// fetched directly',
    run: () => guardedFetch('file:///etc/passwd'),
    expected: { code: 'BLOCKED_SCHEME' },
  },
  {
    kind: 'url',
    name: 'gopher:// fetched directly',
    run: () => guardedFetch('gopher://images.example/'),
    expected: { code: 'BLOCKED_SCHEME' },
  },
  {
    kind: 'url',
    name: 'file:// in a CSV',
    run: () => upload(csvRows('1,A,file:///etc/passwd')),
    expected: CSV_INVALID,
  },
  {
    kind: 'url',
    name: 'javascript: in a CSV',
    run: () => upload(csvRows('1,A,javascript:alert(1)')),
    expected: CSV_INVALID,
  },
  {
    kind: 'url',
    name: 'ftp:// in a CSV',
    run: () => upload(csvRows('1,A,ftp://images.example/a.jpg')),
    expected: CSV_INVALID,
  },
  {
    kind: 'url',
    name: 'an image URL over MAX_URL_LENGTH',
    run: () => upload(csvRows(`1,A,https://img.example/${'a'.repeat(120)}.jpg`)),
    expected: CSV_INVALID,
  },
  {
    kind: 'url',
    name: 'a webhook URL with a password',
    run: () =>
      upload(csvRows(`1,A,${img(1)}`), {
        variables: { webhookUrl: 'http://user:pw@hooks.example/x' },
      }),
    expected: BAD_INPUT,
  },
  {
    kind: 'url',
    name: 'a webhook URL with a file scheme',
    run: () =>
      upload(csvRows(`1,A,${img(1)}`), { variables: { webhookUrl: 'file:///etc/passwd' } }),
    expected: BAD_INPUT,
  },
  {
    kind: 'url',
    name: 'a webhook URL with a control character',
    run: () =>
      upload(csvRows(`1,A,${img(1)}`), {
        variables: { webhookUrl: 'https://hooks.example/\u0000x' },
      }),
    expected: BAD_INPUT,
  },

  // CSV limits, each from its own setting
  {
    kind: 'csv',
    name: 'more bytes than MAX_CSV_BYTES',
    run: () => upload(csvRows(`1,${'A'.repeat(3100)},${img(1)}`)),
    // A GraphQL error in a 200 answer, as for every error a resolver reports.
    expected: { status: 200, code: 'PAYLOAD_TOO_LARGE' },
  },
  {
    kind: 'csv',
    name: 'more bytes than MAX_CSV_BYTES over REST',
    run: () => restUpload(csvRows(`1,${'A'.repeat(3100)},${img(1)}`)),
    expected: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  },
  {
    kind: 'csv',
    name: 'a product name holding a NUL byte',
    run: () => upload(csvRows(`1,a\u0000b,${img(1)}`)),
    expected: CSV_INVALID,
  },
  {
    kind: 'csv',
    name: 'a product name holding a NUL byte, over REST',
    run: () => restUpload(csvRows(`1,a\u0000b,${img(1)}`)),
    expected: { status: 400, code: 'CSV_INVALID' },
  },
  {
    kind: 'csv',
    name: 'more rows than MAX_CSV_ROWS',
    run: () => upload(csvRows(...[1, 2, 3, 4, 5, 6].map((n) => `${n},P${n},${img(n)}`))),
    expected: CSV_INVALID,
  },
  {
    kind: 'csv',
    name: 'more URLs in a row than MAX_URLS_PER_ROW',
    run: () => upload(csvRows(`1,A,"${[1, 2, 3, 4].map(img).join(',')}"`)),
    expected: CSV_INVALID,
  },
  {
    kind: 'csv',
    name: 'more images than MAX_IMAGES_PER_REQUEST',
    run: () =>
      upload(
        csvRows(
          ...[1, 2, 3].map(
            (n) => `${n},P${n},"${[1, 2, 3].map((i) => img(n * 10 + i)).join(',')}"`,
          ),
        ),
      ),
    expected: CSV_INVALID,
  },
  {
    kind: 'csv',
    name: 'a name longer than MAX_NAME_LENGTH',
    run: () => upload(csvRows(`1,${'N'.repeat(41)},${img(1)}`)),
    expected: CSV_INVALID,
  },
  {
    kind: 'csv',
    name: 'no header row',
    run: () => upload(`1,A,${img(1)}\n`),
    expected: CSV_INVALID,
  },
  {
    kind: 'csv',
    name: 'a repeated serial number',
    run: () => upload(csvRows(`1,A,${img(1)}`, `1,B,${img(2)}`)),
    expected: CSV_INVALID,
  },
  {
    kind: 'csv',
    name: 'an unterminated quote',
    run: () => upload(csvRows(`1,"A,${img(1)}`)),
    expected: CSV_INVALID,
  },
  {
    kind: 'csv',
    name: 'binary bytes',
    run: () => upload(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0xff, 0xfe, 0x0a])),
    expected: CSV_INVALID,
  },
  {
    kind: 'csv',
    name: 'a PNG sent as the file',
    run: () => upload('not a csv', { type: 'image/png', fileName: 'x.png' }),
    expected: BAD_INPUT,
  },

  // GraphQL documents (C-15 for the root fields is in permissions.test.ts)
  {
    kind: 'graphql',
    name: 'deeper than GRAPHQL_MAX_DEPTH',
    run: () => query(deep(3)),
    expected: INVALID_DOCUMENT,
  },
  {
    kind: 'graphql',
    name: 'more aliases than GRAPHQL_MAX_ALIASES',
    run: () =>
      query(
        `{ ${[1, 2, 3, 4].map((i) => `a${i}: requests(first: 1) { edges { cursor } }`).join(' ')} }`,
      ),
    expected: INVALID_DOCUMENT,
  },
  {
    kind: 'graphql',
    name: 'more tokens than GRAPHQL_MAX_TOKENS',
    run: () => query(`{ requests { edges { ${'cursor '.repeat(400)} } } }`),
    expected: { status: 400, code: 'GRAPHQL_PARSE_FAILED' },
  },
  {
    kind: 'graphql',
    name: 'more directives than GRAPHQL_MAX_DIRECTIVES',
    run: () => query(`{ requests { edges { cursor ${'@include(if: true) '.repeat(5)} } } }`),
    expected: INVALID_DOCUMENT,
  },
  {
    kind: 'graphql',
    name: 'more complexity than GRAPHQL_MAX_COMPLEXITY',
    run: () =>
      query(
        '{ requests(first: 100) { edges { node { products(first: 100) { edges { node { name } } } } } } }',
      ),
    expected: { status: 400, code: 'BAD_USER_INPUT' },
  },
  {
    kind: 'graphql',
    name: 'a body over 1 MB',
    run: () =>
      graphqlCall(JSON.stringify({ query: LIST, variables: { pad: 'x'.repeat(1_100_000) } })),
    expected: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  },
  {
    kind: 'graphql',
    name: 'malformed JSON',
    run: () => graphqlCall('{"query": '),
    expected: { status: 400, code: 'BAD_USER_INPUT' },
  },
  {
    kind: 'graphql',
    name: 'a batch of operations',
    run: () => graphqlCall(JSON.stringify([{ query: LIST }, { query: LIST }])),
    expected: { status: 400 },
  },
  {
    kind: 'graphql',
    name: 'a misspelt field, with no suggestion given',
    run: () => query('{ requestz { edges { cursor } } }'),
    expected: INVALID_DOCUMENT,
  },
  {
    kind: 'graphql',
    name: 'a variable of the wrong type',
    run: () =>
      graphqlCall(
        JSON.stringify({
          query: 'query($n: Int) { requests(first: $n) { edges { cursor } } }',
          variables: { n: 'ten' },
        }),
      ),
    expected: { status: 400, code: 'BAD_USER_INPUT' },
  },
  {
    kind: 'graphql',
    name: 'a mutation over GET',
    run: () =>
      fetch(
        `${service.url}/graphql?query=${encodeURIComponent('mutation { deleteWebhook(id: "x") }')}`,
        { headers: { authorization: `Bearer ${good()}`, 'apollo-require-preflight': 'true' } },
      ).then(answer),
    expected: { status: 405 },
  },
  {
    kind: 'graphql',
    name: 'a GET query without a preflight header (CSRF)',
    run: () =>
      fetch(`${service.url}/graphql?query=${encodeURIComponent(LIST)}`, {
        headers: { authorization: `Bearer ${good()}` },
      }).then(answer),
    expected: { status: 400, code: 'BAD_REQUEST' },
  },

  // multipart bodies
  {
    kind: 'multipart',
    name: 'an upload without the preflight header',
    run: () => rawMultipart(OPS + MAP + FILE() + '--xx--', { authorization: `Bearer ${good()}` }),
    expected: { status: 400, code: 'BAD_REQUEST' },
  },
  {
    kind: 'multipart',
    name: 'an upload without a token',
    run: () => rawMultipart(OPS + MAP + FILE() + '--xx--', { 'apollo-require-preflight': 'true' }),
    expected: UNAUTHENTICATED,
  },
  {
    kind: 'multipart',
    name: 'two files',
    run: () =>
      rawMultipart(
        OPS +
          MAP.replace(
            '{"0":["variables.file"]}',
            '{"0":["variables.file"],"1":["variables.file"]}',
          ) +
          FILE('0') +
          FILE('1') +
          '--xx--',
      ),
    expected: { status: 400, code: 'BAD_USER_INPUT' },
  },
  {
    kind: 'multipart',
    name: 'a map naming a file that never comes',
    run: () => rawMultipart(OPS + MAP + '--xx--'),
    expected: { status: 400, code: 'BAD_USER_INPUT' },
  },
  {
    kind: 'multipart',
    name: 'operations that are not JSON',
    run: () => rawMultipart(OPS.replace(/\{"query".*\n/, 'not json\n') + MAP + FILE() + '--xx--'),
    expected: { status: 400, code: 'BAD_USER_INPUT' },
  },
  {
    kind: 'multipart',
    name: 'a body cut off inside the file',
    run: () => rawMultipart(OPS + MAP + FILE().slice(0, -20)),
    expected: BAD_INPUT,
  },
  {
    kind: 'multipart',
    name: 'a REST upload whose file field has another name',
    run: () =>
      fetch(`${service.url}/api/upload`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${good()}`,
          'content-type': 'multipart/form-data; boundary=xx',
        },
        body: FILE('csv').replaceAll('\n', '\r\n') + '\r\n--xx--',
      }).then(answer),
    expected: { status: 400, code: 'BAD_USER_INPUT' },
  },

  // WebSocket frames
  {
    kind: 'websocket',
    name: 'a frame over WS_MAX_PAYLOAD_BYTES',
    run: () => wsFrames([init(good()), 'x'.repeat(4096)]),
    expected: { close: 1009 },
  },
  {
    kind: 'websocket',
    name: 'a frame that is not JSON',
    run: () => wsFrames([init(good()), '{not json'], true),
    expected: { close: 4400 },
  },
  {
    kind: 'websocket',
    name: 'a subscribe before connection_init',
    run: () => wsFrames([subscribeFrame(PROGRESS_SUBSCRIPTION, { id: randomUUID() })]),
    expected: { close: 4401 },
  },
  {
    kind: 'websocket',
    name: 'a second connection_init',
    run: () => wsFrames([init(good()), init(good())], true),
    expected: { close: 4429 },
  },
  {
    kind: 'websocket',
    name: 'a message of an unknown type',
    run: () => wsFrames([init(good()), { type: 'exfiltrate' }], true),
    expected: { close: 4400 },
  },
  {
    kind: 'websocket',
    name: 'one connection more than WS_MAX_CONNECTIONS_PER_SUBJECT',
    run: oneConnectionTooMany,
    expected: { close: 4429 },
  },
];

/** Leaks a client must never see: stack frames, SQL, and the names of what runs inside. */
const INTERNALS =
  /\bat .+\.(ts|js):\d+|stacktrace|node_modules|prisma|SELECT |INSERT |jsonwebtoken|JsonWebTokenError|invalid signature|jwt (malformed|expired)/i;

describe('hostile inputs', () => {
  it('has at least 60 rows, of every kind', () => {
    expect(rows.length).toBeGreaterThanOrEqual(60);
    expect(new Set(rows.map((r) => r.kind)).size).toBe(6);
  });

  it.each(rows)('$kind: $name → $expected', async ({ run, expected }) => {
    const outcome = await run();
    if (outcome.code === 'UNAUTHENTICATED') expect(outcome.message).toBe(UNAUTHENTICATED_MESSAGE);

    expect(
      Object.fromEntries(Object.keys(expected).map((k) => [k, outcome[k as keyof Outcome]])),
    ).toEqual(expected);
  });

  it('never connected to the canary, and no answer carried a stack trace, SQL or library names', () => {
    expect(canary.hits).toBe(0);
    expect(bodies.filter((body) => INTERNALS.test(body))).toEqual([]);
  });

  it('closed oversized frames without printing a stack', async () => {
    const errors = vi.spyOn(console, 'error');

    const outcome = await wsFrames([init(good()), 'y'.repeat(10_000)]);

    expect(outcome.close).toBe(1009);
    expect(errors).not.toHaveBeenCalled();
    errors.mockRestore();
  });
});
