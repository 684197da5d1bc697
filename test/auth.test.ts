import { createHmac } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RequestByIdDocument, RequestsDocument } from './generated/graphql.ts';
import type { RequestByIdQuery, RequestsQuery } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import type { GraphQLResponse, TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import { cleanUpProcesses, spawnNode } from './helpers/process.ts';

const SRC_DIR = path.resolve(import.meta.dirname, '../src');

let service: TestService;
let images: ImageServer;
/** Every response body this file received, checked for leaked internals at the end. */
const bodies: string[] = [];

beforeAll(async () => {
  [service, images] = await Promise.all([startTestService(), startImageServer()]);
});
afterAll(async () => {
  await service.stop();
  await images.close();
  await cleanUpProcesses();
});

interface Call {
  headers?: Record<string, string>;
  /** Appended to `/graphql`, e.g. `?token=…`. */
  search?: string;
  target?: TestService;
}

async function query<T, V>(
  document: TypedDocumentNode<T, V>,
  variables: V,
  call: Call = {},
): Promise<GraphQLResponse<T>> {
  const target = call.target ?? service;
  const res = await fetch(`${target.url}/graphql${call.search ?? ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...call.headers },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, ...(JSON.parse(text) as Omit<GraphQLResponse<T>, 'status'>) };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const listRequests = (call: Call) => query(RequestsDocument, { first: 100 }, call);

async function uploadAs(subject: string): Promise<string> {
  const csv = `S. No.,Product Name,Input Image Urls\n1,Dot,${images.url}/1x1.png\n`;
  const res = await service.upload(csv, { token: service.token(subject) });
  const text = await res.text();
  bodies.push(text);
  return (JSON.parse(text) as UploadBody).data?.uploadCsv.request.id ?? '';
}

const now = () => Math.floor(Date.now() / 1000);
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const sign = (payload: object, secret: string, algorithm: jwt.Algorithm = 'HS256') =>
  jwt.sign(payload, secret, { algorithm });
const alice = () => ({ sub: 'alice', iat: now(), exp: now() + 3600 });
/** HS256 over any payload, for claims jsonwebtoken's sign would refuse to write. */
const signUnchecked = (payload: object, secret: string) => {
  const signed = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(payload)}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
};

describe('tokens that are refused', () => {
  const refused: { name: string; call: (secret: string) => Call }[] = [
    {
      name: 'alg none with an empty signature',
      call: () => ({
        headers: bearer(`${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(alice())}.`),
      }),
    },
    {
      name: 'a valid payload with a garbage signature',
      call: (secret) => {
        const [header, payload] = sign(alice(), secret).split('.');
        return { headers: bearer(`${header}.${payload}.bm90LWEtc2lnbmF0dXJlLWF0LWFsbA`) };
      },
    },
    {
      name: 'HS256 signed with another secret',
      call: () => ({
        headers: bearer(sign(alice(), 'another-secret-that-is-long-enough-0123456789')),
      }),
    },
    {
      name: 'HS512 signed with the right secret',
      call: (secret) => ({ headers: bearer(sign(alice(), secret, 'HS512')) }),
    },
    {
      name: 'a token that expired an hour ago',
      call: (secret) => ({
        headers: bearer(sign({ sub: 'alice', iat: now() - 7200, exp: now() - 3600 }, secret)),
      }),
    },
    {
      name: 'a token without sub',
      call: (secret) => ({ headers: bearer(sign({ iat: now(), exp: now() + 3600 }, secret)) }),
    },
    {
      name: 'Basic credentials',
      call: () => ({
        headers: { authorization: `Basic ${Buffer.from('alice:password').toString('base64')}` },
      }),
    },
    {
      name: 'a token in the query string only',
      call: (secret) => ({ search: `?token=${sign(alice(), secret)}` }),
    },
  ];

  it.each(refused)('answers $name with HTTP 401 UNAUTHENTICATED', async ({ call }) => {
    const res = await listRequests(call(service.service.jwtSecret ?? ''));
    const error = res.errors?.[0];

    expect(res.status).toBe(401);
    expect(error?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(error?.message).not.toMatch(/jwt|signature|algorithm/i);
  });
});

describe('clock tolerance', () => {
  let strict: TestService;

  beforeAll(async () => {
    strict = await startTestService({ JWT_CLOCK_TOLERANCE_SEC: '0' });
  });
  afterAll(async () => {
    await strict.stop();
  });

  it('accepts a token that expired 10 seconds ago, within the default 30 s tolerance', async () => {
    const token = sign(
      { sub: 'alice', iat: now() - 600, exp: now() - 10 },
      service.service.jwtSecret ?? '',
    );

    const res = await listRequests({ headers: bearer(token) });

    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
  });

  it('accepts a token whose nbf is 5 seconds in the future', async () => {
    const token = sign(
      { sub: 'alice', iat: now(), nbf: now() + 5, exp: now() + 3600 },
      service.service.jwtSecret ?? '',
    );

    const res = await listRequests({ headers: bearer(token) });

    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
  });

  it('refuses the 10-seconds-expired token when JWT_CLOCK_TOLERANCE_SEC is 0', async () => {
    const token = sign(
      { sub: 'alice', iat: now() - 600, exp: now() - 10 },
      strict.service.jwtSecret ?? '',
    );

    const res = await listRequests({ headers: bearer(token), target: strict });

    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('time claims: exp, nbf and iat', () => {
  const secret = () => service.service.jwtSecret ?? '';

  it('accepts a token without exp, which the contract honours but does not require', async () => {
    const res = await listRequests({
      headers: bearer(sign({ sub: 'alice', iat: now() }, secret())),
    });

    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
  });

  it.each([
    { name: 'nbf an hour in the future', claims: { nbf: now() + 3600 } },
    { name: 'iat an hour in the future', claims: { iat: now() + 3600 } },
    { name: 'iat that is not a number', claims: { iat: 'yesterday' } },
  ])('refuses a token with $name as UNAUTHENTICATED', async ({ claims }) => {
    const token = signUnchecked(
      { sub: 'alice', iat: now(), exp: now() + 7200, ...claims },
      secret(),
    );

    const res = await listRequests({ headers: bearer(token) });

    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('accepts a token whose iat is 10 seconds ahead, within the 30 s tolerance', async () => {
    const token = sign({ sub: 'alice', iat: now() + 10, exp: now() + 3600 }, secret());

    const res = await listRequests({ headers: bearer(token) });

    expect(res.status).toBe(200);
  });

  it('prints from npm run token a token that expires in 24 hours and is accepted', async () => {
    const child = spawnNode(['--import', 'tsx', 'src/cli/token.ts', 'alice'], {
      JWT_SECRET: secret(),
      DATA_DIR: service.dataDir,
    });
    const exit = await child.waitForExit();
    const [token = ''] = child.stdout;
    const { exp, iat } = jwt.verify(token, secret()) as jwt.JwtPayload;

    const res = await listRequests({ headers: bearer(token) });

    expect(exit.code).toBe(0);
    expect((exp ?? 0) - (iat ?? 0)).toBe(24 * 3600);
    expect(res.status).toBe(200);
  });
});

describe('npm run token, called wrongly or for help', () => {
  it.each([
    { args: ['--help'], code: 0, stream: 'stdout' },
    { args: ['--bogus', 'alice'], code: 2, stream: 'stderr' },
    { args: [], code: 2, stream: 'stderr' },
  ] as const)(
    '$args: exit $code with the usage line and no stack trace',
    async ({ args, code, stream }) => {
      const child = spawnNode(['--import', 'tsx', 'src/cli/token.ts', ...args], {
        JWT_SECRET: 'token-cli-secret-that-is-long-enough-0123456789',
      });
      const exit = await child.waitForExit();
      const output = child[stream].join('\n');

      expect(exit.code).toBe(code);
      expect(output).toContain('usage: npm run token -- <subject>');
      expect([...child.stdout, ...child.stderr].join('\n')).not.toMatch(/\n\s+at /);
    },
  );
});

describe('token verification in the source', () => {
  it('never reads a token with jwt.decode( anywhere under src/', async () => {
    const files = (await readdir(SRC_DIR, { recursive: true })).filter((f) => f.endsWith('.ts'));

    const offenders: string[] = [];
    for (const file of files) {
      const text = await readFile(path.join(SRC_DIR, file), 'utf8');
      if (text.includes('jwt.decode(')) offenders.push(file);
    }

    expect(files.length).toBeGreaterThan(10);
    expect(offenders).toEqual([]);
  });
});

describe('who sees which request', () => {
  let aliceId: string;
  let bobId: string;

  beforeAll(async () => {
    [aliceId, bobId] = await Promise.all([uploadAs('owner-alice'), uploadAs('owner-bob')]);
  });

  const idsOf = (res: GraphQLResponse<RequestsQuery>) =>
    res.data?.requests.edges.map((edge) => edge.node.id) ?? [];

  it('lists only the caller’s own requests', async () => {
    const res = await listRequests({ headers: bearer(service.token('owner-alice')) });

    expect(idsOf(res)).toEqual([aliceId]);
  });

  it('lists every owner’s requests for an admin', async () => {
    const res = await listRequests({ headers: bearer(service.token('root', true)) });

    expect(idsOf(res)).toEqual(expect.arrayContaining([aliceId, bobId]));
  });

  it('reads another owner’s request as null, without an error', async () => {
    const res: GraphQLResponse<RequestByIdQuery> = await query(
      RequestByIdDocument,
      { id: bobId },
      { headers: bearer(service.token('owner-alice')) },
    );

    expect(res.data?.request).toBeNull();
    expect(res.errors).toBeUndefined();
  });

  it.each(['not-a-uuid', "1' OR '1'='1", '00000000-0000-0000-0000-00000000000g'])(
    'reads id %j, which is not a UUID, as null without an error',
    async (id) => {
      const res = await query(RequestByIdDocument, { id }, { headers: bearer(service.token()) });

      expect(res.data?.request).toBeNull();
      expect(res.errors).toBeUndefined();
    },
  );
});

describe('masking of internals', () => {
  it('refuses a forged cursor whose id is not a UUID as BAD_USER_INPUT', async () => {
    const forged = base64url({ c: '2020-01-01T00:00:00.000Z', i: "x' SELECT 1" });

    const res = await query(
      RequestsDocument,
      { first: 1, after: forged },
      { headers: bearer(service.token()) },
    );

    expect(res.data).toBeNull();
    expect(res.errors?.[0]?.message).not.toMatch(/prisma|uuid|invocation/i);
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('never answered with a stack trace, Prisma or SQL in any response of this file', () => {
    const leaks = bodies.filter((body) => /stack|prisma/i.test(body) || body.includes('SELECT'));

    expect(bodies.length).toBeGreaterThan(15);
    expect(leaks).toEqual([]);
  });
});
