import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RequestByIdQuery, WebhooksQuery } from './generated/graphql.ts';
import {
  DeleteWebhookDocument,
  RegisterWebhookDocument,
  RequestByIdDocument,
  WebhookDeliveriesDocument,
  WebhookSigningSecretDocument,
  WebhooksDocument,
} from './generated/graphql.ts';
import type { ReceivedHook, WebhookReceiver } from './helpers/webhook-receiver.ts';
import { answerInTurn } from './helpers/webhook-receiver.ts';
import type { Attempts, WebhookBed } from './helpers/webhooks.ts';
import { startWebhookBed, verifies } from './helpers/webhooks.ts';

let bed: WebhookBed;

beforeAll(async () => {
  bed = await startWebhookBed();
});
afterAll(async () => {
  await bed.close();
});

/** Resolves once `count` attempts of the request have delivered, with every attempt made. */
function delivered(owner: string, requestId: string, count: number): Promise<Attempts> {
  return bed.attemptsWhen(
    owner,
    requestId,
    (list) => list.filter((a) => a.deliveredAt !== null).length >= count,
  );
}

describe('a request that ends, for an owner with two webhooks and a webhookUrl', () => {
  const owner = 'alice';
  let hookA: WebhookReceiver;
  let hookB: WebhookReceiver;
  let perRequest: WebhookReceiver;
  let othersHook: WebhookReceiver;
  let deletedHook: WebhookReceiver;
  let secrets: string[];
  let listed: WebhooksQuery['webhooks'];
  let attempts: Attempts;

  beforeAll(async () => {
    [hookA, hookB, perRequest, othersHook, deletedHook] = await Promise.all([
      bed.receiver(),
      bed.receiver(),
      bed.receiver(),
      bed.receiver(),
      bed.receiver(),
    ]);
    const a = await bed.register(owner, hookA.url);
    const b = await bed.register(owner, hookB.url);
    const deleted = await bed.register(owner, deletedHook.url);
    await bed.graphql(owner, DeleteWebhookDocument, { id: deleted.webhook.id });
    await bed.register('bob', othersHook.url);
    secrets = [a.secret, b.secret];
    listed = (await bed.graphql(owner, WebhooksDocument, {})).data?.webhooks ?? [];

    const requestId = await bed.upload(owner, perRequest.url);
    attempts = await delivered(owner, requestId, 3);
  });

  it('returns a different whsec_ signing secret from each registerWebhook call', () => {
    expect(secrets.every((s) => /^whsec_[A-Za-z0-9+/]{43}=$/.test(s))).toBe(true);
    expect(new Set(secrets).size).toBe(2);
  });

  it('lists the active webhooks, without the deleted one and without their secrets', () => {
    expect(listed.map((w) => [w.url, w.isActive])).toEqual([
      [hookA.url, true],
      [hookB.url, true],
    ]);
    expect(secrets.some((s) => JSON.stringify(listed).includes(s))).toBe(false);
  });

  it("sends exactly one POST to each webhook and to the request's webhookUrl", () => {
    expect([hookA, hookB, perRequest].map((r) => r.received.map((h) => h.method))).toEqual([
      ['POST'],
      ['POST'],
      ['POST'],
    ]);
    expect(attempts.map((a) => a.url).sort()).toEqual(
      [hookA.url, hookB.url, perRequest.url].sort(),
    );
  });

  it("signs each registered webhook's delivery with the secret its registration returned", () => {
    const [secretA = '', secretB = ''] = secrets;

    expect([verifies(secretA, hookA.received[0]), verifies(secretB, hookB.received[0])]).toEqual([
      true,
      true,
    ]);
    expect(verifies(secretB, hookA.received[0])).toBe(false);
  });

  it("signs the delivery to the request's own webhookUrl with webhookSigningSecret", async () => {
    const { data } = await bed.graphql(owner, WebhookSigningSecretDocument, {});

    expect(verifies(data?.webhookSigningSecret ?? '', perRequest.received[0])).toBe(true);
    expect(secrets).not.toContain(data?.webhookSigningSecret);
  });

  it("sends nothing to another owner's webhook or to a deleted webhook", () => {
    expect(othersHook.connections).toBe(0);
    expect(deletedHook.connections).toBe(0);
  });
});

describe('the payload and headers of a delivery (C-24)', () => {
  const owner = 'carol';
  let hook: ReceivedHook | undefined;
  let request: RequestByIdQuery['request'];

  beforeAll(async () => {
    const target = await bed.receiver();
    const requestId = await bed.upload(owner, target.url, 'Café "Crème" — été.csv');
    [hook] = await target.nth(1);
    await delivered(owner, requestId, 1);
    const { data } = await bed.graphql(owner, RequestByIdDocument, { id: requestId });
    request = data?.request ?? null;
  });

  it('sends UTF-8 JSON with the webhook-id, webhook-timestamp and webhook-signature headers', () => {
    const headers = hook?.headers ?? {};
    const sentAt = Number(headers['webhook-timestamp']) * 1000;

    expect(headers['content-type']).toBe('application/json; charset=utf-8');
    expect([headers['webhook-id'], headers['webhook-signature']]).toEqual([
      expect.stringMatching(/^[0-9a-f-]{36}$/),
      expect.stringMatching(/^v1,[A-Za-z0-9+/]{43}=$/),
    ]);
    expect(Math.abs(sentAt - Date.parse(request?.completedAt ?? ''))).toBeLessThan(60_000);
  });

  it('signs the exact bytes it sent, so verifying the raw received body succeeds', async () => {
    const { data } = await bed.graphql(owner, WebhookSigningSecretDocument, {});
    const raw = hook?.body ?? Buffer.alloc(0);

    const verified = new Webhook(data?.webhookSigningSecret ?? '').verify(raw, hook?.headers ?? {});

    expect(verified).toEqual(JSON.parse(raw.toString('utf8')));
    expect(raw.length).toBe(Number(hook?.headers['content-length']));
  });

  it('describes the ended request: its status, progress, output CSV and end time', () => {
    const payload: unknown = JSON.parse(hook?.body.toString('utf8') ?? 'null');

    expect(payload).toEqual({
      type: 'request.completed',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
      data: {
        requestId: request?.id,
        status: 'COMPLETED',
        progress: { total: 1, completed: 1, failed: 0, pending: 0, percent: 100 },
        outputCsvUrl: request?.outputCsvUrl,
        completedAt: request?.completedAt,
      },
    });
    expect(request?.outputCsvUrl).toMatch(/^http:\/\/.+output\.csv$/);
  });
});

describe('a receiver that answers 500, 500, then 200 (C-25 C)', () => {
  const owner = 'dave';
  let hooks: ReceivedHook[];
  let attempts: Attempts;

  beforeAll(async () => {
    const target = await bed.receiver(answerInTurn(500, 500, 200));
    const requestId = await bed.upload(owner, target.url);
    hooks = await target.nth(3);
    attempts = await delivered(owner, requestId, 1);
  });

  it('is delivered on the third attempt, after two recorded HTTP 500 answers', () => {
    expect(attempts.map((a) => [a.attempt, a.statusCode])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
    expect(attempts.map((a) => a.deliveredAt !== null)).toEqual([false, false, true]);
  });

  it('sends byte-identical bodies under the same webhook-id on every attempt', () => {
    const [first] = hooks;

    expect(hooks.map((h) => h.body.equals(first?.body ?? Buffer.alloc(0)))).toEqual([
      true,
      true,
      true,
    ]);
    expect(new Set(hooks.map((h) => h.headers['webhook-id'])).size).toBe(1);
  });

  it('records when each retry is due and makes no retry before then', () => {
    const due = attempts.map((a) =>
      a.nextAttemptAt === null ? null : Date.parse(a.nextAttemptAt),
    );
    const made = attempts.map((a) => Date.parse(a.createdAt));

    expect(due.map((d) => d !== null)).toEqual([true, true, false]);
    expect([made[1] ?? 0, made[2] ?? 0]).toEqual([
      expect.toSatisfy((t: number) => t >= (due[0] ?? Infinity)),
      expect.toSatisfy((t: number) => t >= (due[1] ?? Infinity)),
    ]);
  });
});

describe('the webhook API', () => {
  const refused = [
    { name: 'an ftp URL', url: 'ftp://x' },
    { name: 'text that is not a URL', url: 'not a url' },
    { name: 'a 3000-character URL', url: `http://127.0.0.1/${'a'.repeat(3000)}` },
    { name: 'a URL with a user name and password', url: 'http://user:pw@127.0.0.1/' },
  ];

  it.each(refused)(
    'refuses to register $name with BAD_USER_INPUT and stores nothing',
    async ({ url }) => {
      const { errors } = await bed.graphql('erin', RegisterWebhookDocument, { url });
      const { data } = await bed.graphql('erin', WebhooksDocument, {});

      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(data?.webhooks).toEqual([]);
    },
  );

  it("answers false to deleteWebhook of another owner's webhook, which stays active", async () => {
    const target = await bed.receiver();
    const { webhook } = await bed.register('frank', target.url);

    const { data } = await bed.graphql('mallory', DeleteWebhookDocument, { id: webhook.id });
    const kept = await bed.graphql('frank', WebhooksDocument, {});

    expect(data?.deleteWebhook).toBe(false);
    expect(kept.data?.webhooks.map((w) => w.id)).toEqual([webhook.id]);
  });

  it("answers NOT_FOUND to webhookDeliveries of another owner's request", async () => {
    const requestId = await bed.upload('grace', null);

    const { data, errors } = await bed.graphql('mallory', WebhookDeliveriesDocument, { requestId });

    expect(errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(data).toBeNull();
  });

  const anonymous = [
    { name: 'webhooks', call: () => bed.graphql(null, WebhooksDocument, {}) },
    {
      name: 'webhookSigningSecret',
      call: () => bed.graphql(null, WebhookSigningSecretDocument, {}),
    },
    {
      name: 'webhookDeliveries',
      call: () =>
        bed.graphql(null, WebhookDeliveriesDocument, {
          requestId: '00000000-0000-4000-8000-000000000000',
        }),
    },
    {
      name: 'registerWebhook',
      call: () => bed.graphql(null, RegisterWebhookDocument, { url: 'http://127.0.0.1/x' }),
    },
    {
      name: 'deleteWebhook',
      call: () =>
        bed.graphql(null, DeleteWebhookDocument, { id: '00000000-0000-4000-8000-000000000000' }),
    },
  ];

  it.each(anonymous)('answers $name without a token with UNAUTHENTICATED', async ({ call }) => {
    const { status, errors } = await call();

    expect(errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(status).toBe(401);
  });
});

describe('the cap of 25 active webhooks per owner', () => {
  const owner = 'ivan';
  const url = (i: number) => `http://127.0.0.1:9/hook-${i}`;
  let answers: Awaited<ReturnType<WebhookBed['graphql']>>[];

  beforeAll(async () => {
    // Thirty at once: the cap must hold against registrations that race each other.
    answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        bed.graphql(owner, RegisterWebhookDocument, { url: url(i) }),
      ),
    );
  });

  it('registers 25 of 30 concurrent registrations and refuses the other 5', async () => {
    const { data } = await bed.graphql(owner, WebhooksDocument, {});

    expect(answers.filter((a) => a.errors === undefined)).toHaveLength(25);
    expect(data?.webhooks).toHaveLength(25);
  });

  it('refuses past the cap with BAD_USER_INPUT saying how many exist and how to remove one', () => {
    const refusal = answers.find((a) => a.errors !== undefined)?.errors?.[0];

    expect(refusal?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refusal?.message).toBe(
      'You have 25 active webhooks, the most one owner may have (25); ' +
        'list them with the webhooks query and remove one with deleteWebhook(id) first.',
    );
  });

  it('registers again once one is deleted, and never counts another owner', async () => {
    const { data } = await bed.graphql(owner, WebhooksDocument, {});
    const first = data?.webhooks[0]?.id ?? '';

    await bed.graphql(owner, DeleteWebhookDocument, { id: first });
    const again = await bed.graphql(owner, RegisterWebhookDocument, { url: url(99) });
    const other = await bed.graphql('judy', RegisterWebhookDocument, { url: url(0) });

    expect(again.errors).toBeUndefined();
    expect(other.errors).toBeUndefined();
  });
});
