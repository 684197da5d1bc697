import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RequestByIdDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import type { RestClient } from './helpers/rest.ts';
import { createRestClient, csvForm } from './helpers/rest.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

/**
 * ProcessingOptionsInput over GraphQL and the same options as REST form fields: each bad value
 * refused with BAD_USER_INPUT naming the option, nothing stored; good ones stored and shown.
 */

let service: TestService;
let images: ImageServer;
let rest: RestClient;

beforeAll(async () => {
  [service, images] = await Promise.all([startTestService(), startImageServer()]);
  rest = await createRestClient(service);
});
afterAll(async () => {
  await service.stop();
  await images.close();
});

function tinyCsv(): string {
  return `S. No.,Product Name,Input Image Urls\n1,Dot,${images.url}/1x1.png\n`;
}

async function storedFor(subject: string): Promise<number> {
  const page = await service.service.app.repositories.requests.list(subject, 10, null);
  return page.items.length;
}

/** Each bad value: as GraphQL sends it, as a form field, and the option the message names. */
const BAD: { what: string; graphql: Record<string, unknown>; form: Record<string, string> }[] = [
  { what: 'quality', graphql: { quality: 0 }, form: { quality: '0' } },
  { what: 'quality', graphql: { quality: 101 }, form: { quality: '101' } },
  { what: 'quality', graphql: { quality: 50.5 }, form: { quality: '50.5' } },
  { what: 'quality', graphql: { quality: 'high' }, form: { quality: 'high' } },
  { what: 'format', graphql: { format: 'GIF' }, form: { format: 'GIF' } },
  { what: 'maxWidth', graphql: { maxWidth: 0 }, form: { maxWidth: '0' } },
  { what: 'maxWidth', graphql: { maxWidth: -5 }, form: { maxWidth: '-5' } },
  { what: 'maxWidth', graphql: { maxWidth: 16_385 }, form: { maxWidth: '16385' } },
  { what: 'maxHeight', graphql: { maxHeight: 0 }, form: { maxHeight: '0' } },
  { what: 'maxHeight', graphql: { maxHeight: 20_000 }, form: { maxHeight: '20000' } },
  { what: 'keepMetadata', graphql: { keepMetadata: 'yes' }, form: { keepMetadata: 'maybe' } },
];

describe('bad processing options', () => {
  it.each(BAD)('GraphQL refuses $what $graphql with BAD_USER_INPUT naming it', async (c) => {
    const subject = `gql-${c.what}-${JSON.stringify(c.graphql).replace(/\W/g, '')}`;

    const res = await service.upload(tinyCsv(), {
      token: service.token(subject),
      variables: { options: c.graphql },
    });
    const body = (await res.json()) as UploadBody;

    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toContain(c.what);
    expect(await storedFor(subject)).toBe(0);
  });

  it.each(BAD)('REST refuses $what $form with 400 BAD_USER_INPUT naming it', async (c) => {
    const subject = `rest-${c.what}-${JSON.stringify(c.form).replace(/\W/g, '')}`;

    const answer = await rest.upload(csvForm(tinyCsv(), c.form), { token: service.token(subject) });

    expect([answer.status, answer.body.error?.code]).toEqual([400, 'BAD_USER_INPUT']);
    expect(answer.body.error?.message).toContain(c.what);
    expect(await storedFor(subject)).toBe(0);
  });
});

describe('good processing options', () => {
  const chosen = { quality: 80, format: 'WEBP', maxWidth: 640, maxHeight: 480, keepMetadata: true };

  it('are stored and shown on the request by GraphQL when sent over GraphQL', async () => {
    const res = await service.upload(tinyCsv(), { variables: { options: chosen } });
    const id = ((await res.json()) as UploadBody).data?.uploadCsv.request.id ?? '';

    const { data } = await service.graphql(RequestByIdDocument, { id });

    expect(data?.request?.options).toEqual(chosen);
  });

  it('are stored and shown by the REST status when sent as form fields', async () => {
    const fields = {
      quality: '80',
      format: 'webp',
      maxWidth: '640',
      maxHeight: '480',
      keepMetadata: 'true',
    };
    const id = (await rest.upload(csvForm(tinyCsv(), fields))).body.requestId ?? '';

    const status = await rest.status(id);

    expect(status.body.options).toEqual(chosen);
  });

  it('default to quality 50, the original format, no bounds and metadata stripped', async () => {
    const id = (await rest.upload(csvForm(tinyCsv()))).body.requestId ?? '';

    const { data } = await service.graphql(RequestByIdDocument, { id });

    expect(data?.request?.options).toEqual({
      quality: 50,
      format: 'ORIGINAL',
      maxWidth: null,
      maxHeight: null,
      keepMetadata: false,
    });
  });
});
