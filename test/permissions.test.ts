import { randomUUID } from 'node:crypto';

import { buildSchema, graphql, isObjectType, parse, subscribe } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { allow } from 'graphql-shield';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ServiceError } from '../src/errors.ts';
import { isAuthenticated, permissionsFor, RULES } from '../src/graphql/permissions.ts';
import { RequestResolver } from '../src/graphql/resolvers/request.resolver.ts';
import { buildGraphQLSchema } from '../src/graphql/schema.ts';
import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

describe('the permission rule tree', () => {
  it('names a rule for every field of every object type in the schema', async () => {
    const schema = await buildGraphQLSchema();
    const rules: Record<string, Record<string, unknown> | undefined> = RULES;

    const missing = Object.values(schema.getTypeMap())
      .filter((type) => isObjectType(type) && !type.name.startsWith('__'))
      .flatMap((type) =>
        isObjectType(type)
          ? Object.keys(type.getFields())
              .filter((field) => !rules[type.name]?.[field])
              .map((field) => `${type.name}.${field}`)
          : [],
      );

    expect(missing, 'add a rule in src/graphql/permissions.ts').toEqual([]);
  });

  it('refuses a field the rule tree does not name, deny by default', async () => {
    const schema = applyMiddleware(
      buildSchema('type Query { named: String  forgotten: String }'),
      permissionsFor({ Query: { named: allow } }),
    );

    const res = await graphql({
      schema,
      source: '{ named forgotten }',
      rootValue: { named: 'yes', forgotten: 'leak' },
    });

    expect(res.data).toEqual({ named: 'yes', forgotten: null });
    expect(res.errors?.map((e) => e.path?.join('.'))).toEqual(['forgotten']);
  });

  it('caches per operation only the rules that read nothing but the caller', () => {
    const contextual = new Set<string>();
    const visit = (node: unknown): void => {
      const r = node as { name?: string; cache?: unknown; getRules?: () => unknown[] };
      if (r.getRules) r.getRules().forEach(visit);
      else if (r.cache === 'contextual' && r.name) contextual.add(r.name);
    };
    for (const fields of Object.values(RULES)) Object.values(fields).forEach(visit);

    const callerOnly = [isAuthenticated].map((r) => (r as unknown as { name: string }).name);
    expect([...contextual].sort()).toEqual(callerOnly.sort());
  });

  it('names no field the schema does not have, so no rule is dead', async () => {
    const schema = await buildGraphQLSchema();

    const unknown = Object.entries(RULES).flatMap(([typeName, fields]) => {
      const type = schema.getType(typeName);
      return Object.keys(fields)
        .filter((field) => !isObjectType(type) || !(field in type.getFields()))
        .map((field) => `${typeName}.${field}`);
    });

    expect(unknown).toEqual([]);
  });
});

describe('the rules at work', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(async () => {
    await service.stop();
  });

  it('answers every root field without a token with UNAUTHENTICATED', async () => {
    const schema = await buildGraphQLSchema();
    const roots = [schema.getQueryType(), schema.getMutationType()].flatMap((type) =>
      Object.keys(type?.getFields() ?? {}).map((field) => ({ type: type?.name ?? '', field })),
    );

    for (const { type, field } of roots) {
      const res = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `${type === 'Mutation' ? 'mutation' : ''} { ${field} }` }),
      });
      const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
      expect(body.errors?.[0]?.extensions?.code, `${type}.${field}`).toBe('UNAUTHENTICATED');
    }
  });

  it('judges each alias of one document on its own object, never reusing an answer', async () => {
    const mine = { id: randomUUID(), ownerId: 'alice', status: 'PENDING' };
    const theirs = { id: randomUUID(), ownerId: 'bob', status: 'PENDING' };
    const schema = await buildGraphQLSchema({
      get: (resolverClass) =>
        resolverClass === RequestResolver
          ? Object.assign(Object.create(RequestResolver.prototype) as RequestResolver, {
              request: (id: string) => Promise.resolve(id === mine.id ? mine : theirs),
            })
          : undefined,
    });

    const res = await graphql({
      schema,
      source: `{ a: request(id: "${mine.id}") { id } b: request(id: "${theirs.id}") { id } c: request(id: "${mine.id}") { id } }`,
      contextValue: { viewer: { subject: 'alice', isAdmin: false } },
    });

    expect(res.data).toEqual({ a: { id: mine.id }, b: null, c: { id: mine.id } });
    expect(
      res.errors?.map((e) => [e.path?.join('.'), (e.originalError as ServiceError).code]),
    ).toEqual([['b.id', 'NOT_FOUND']]);
  });

  it('refuses a subscription without a caller before it starts', async () => {
    const schema = await buildGraphQLSchema();

    const result = await subscribe({
      schema,
      document: parse(`subscription { requestProgress(id: "${randomUUID()}") { status } }`),
      contextValue: {},
    });

    expect('errors' in result && result.errors?.[0]?.message).toBe(
      'A valid bearer token is required.',
    );
  });

  it('hides the fields of a request from anyone but its owner, even if a resolver leaked it', async () => {
    const leaked = { id: randomUUID(), ownerId: 'alice', status: 'PENDING' };
    const schema = await buildGraphQLSchema({
      get: (resolverClass) =>
        resolverClass === RequestResolver
          ? Object.assign(Object.create(RequestResolver.prototype) as RequestResolver, {
              request: () => Promise.resolve(leaked),
            })
          : undefined,
    });
    const run = (subject: string) =>
      graphql({
        schema,
        source: '{ request(id: "x") { id status } }',
        contextValue: { viewer: { subject, isAdmin: false } },
      });

    const owner = await run('alice');
    const stranger = await run('mallory');

    expect(owner.data?.request).toEqual({ id: leaked.id, status: 'PENDING' });
    expect(stranger.errors?.[0]?.originalError).toBeInstanceOf(ServiceError);
    expect((stranger.errors?.[0]?.originalError as ServiceError).code).toBe('NOT_FOUND');
  });
});
