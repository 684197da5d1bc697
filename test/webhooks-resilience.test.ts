import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signToken } from '../src/auth/jwt.ts';
import type { RequestStatus } from '../src/domain/request.ts';
import type { WebhookDeliveriesQuery } from './generated/graphql.ts';
import { UploadCsvDocument, WebhookDeliveriesDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import {
  cleanUpProcesses,
  makeShapeEnv,
  makeTempDir,
  startServiceProcess,
} from './helpers/process.ts';
import type { ReceivedHook, WebhookReceiver } from './helpers/webhook-receiver.ts';
import { answerNever, startWebhookReceiver } from './helpers/webhook-receiver.ts';
import type { Attempts, WebhookBed } from './helpers/webhooks.ts';
import { deliveryOver, oneImageCsv, pollUntil, startWebhookBed } from './helpers/webhooks.ts';

/** Per-hook timeout where service processes are started. */
const SPAWNS = 90_000;

/** Uploads `csv` over GraphQL multipart to a service process, and resolves with the request id. */
async function uploadTo(url: string, token: string, csv: string, webhookUrl: string) {
  const form = new FormData();
  form.append(
    'operations',
    JSON.stringify({ query: print(UploadCsvDocument), variables: { file: null, webhookUrl } }),
  );
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([csv], { type: 'text/csv' }), 'products.csv');
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
    body: form,
  });
  const body = (await res.json()) as { data?: { uploadCsv: { request: { id: string } } } };
  const id = body.data?.uploadCsv.request.id;
  if (!id) throw new Error(`upload refused: ${JSON.stringify(body)}`);
  return id;
}

async function attemptsAt(url: string, token: string, requestId: string): Promise<Attempts> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(WebhookDeliveriesDocument), variables: { requestId } }),
  });
  const body = (await res.json()) as { data?: WebhookDeliveriesQuery | null };
  return body.data?.webhookDeliveries ?? [];
}

describe('a crash (SIGKILL) in the middle of the retry schedule', () => {
  const jwtSecret = 'webhook-restart-test-secret-long-enough-for-hs256';
  const token = signToken(jwtSecret, 'ivan');
  /** The statuses the receiver answered, in order: 500 until the crash, 200 after. */
  const answered: number[] = [];
  let answerWith = 500;
  let images: ImageServer | undefined;
  let receiver: WebhookReceiver | undefined;
  let hooks: ReceivedHook[];
  let attempts: Attempts;

  beforeAll(async () => {
    images = await startImageServer();
    const target = await startWebhookReceiver((res) => {
      answered.push(answerWith);
      res.writeHead(answerWith).end();
    });
    receiver = target;
    // The one retry is due 2 s (±10%) after the first attempt: the crash comes well before. On
    // the production shape the retry waits in BullMQ, and the restarted process takes it there.
    // The receiver answers at once; the time-out only has to allow for a loaded machine.
    const env = {
      ...(await makeShapeEnv()),
      DATA_DIR: await makeTempDir(),
      JWT_SECRET: jwtSecret,
      ALLOW_PRIVATE_NETWORK: 'true',
      WEBHOOK_TIMEOUT_MS: '1500',
      WEBHOOK_RETRY_DELAYS_MS: '2000',
      WEBHOOK_POLL_MS: '50',
    };

    const first = await startServiceProcess(env);
    const requestId = await uploadTo(first.url, token, oneImageCsv(images.url), target.url);
    await first.process.waitForLine(/"outcome":"retrying"/);
    await first.process.kill('SIGKILL');
    answerWith = 200;
    const second = await startServiceProcess(env);
    hooks = await target.nth(2);
    attempts = await pollUntil(
      () => attemptsAt(second.url, token, requestId),
      (list) => deliveryOver(list, target.url),
      20_000,
    );
  }, SPAWNS);
  afterAll(async () => {
    await cleanUpProcesses();
    await Promise.all([images?.close(), receiver?.close()]);
  });

  it('is delivered by the restarted process on attempt 2, after the 500 recorded before', () => {
    expect(attempts.map((a) => [a.attempt, a.statusCode])).toEqual([
      [1, 500],
      [2, 200],
    ]);
    expect(attempts.map((a) => a.deliveredAt !== null)).toEqual([false, true]);
  });

  it('receives exactly one successful POST, with the webhook-id and bytes of the failed one', () => {
    const [before, after] = hooks;

    expect(answered).toEqual([500, 200]);
    expect(after?.headers['webhook-id']).toBe(before?.headers['webhook-id']);
    expect(after?.body.equals(before?.body ?? Buffer.alloc(0))).toBe(true);
  });
});

describe('a receiver that never answers, with WEBHOOK_TIMEOUT_MS=2000', () => {
  const owner = 'judy';
  /** What happened, in the order it happened. */
  const events: string[] = [];
  const seen = (...names: string[]) => events.filter((e) => names.includes(e));
  let bed: WebhookBed;
  let secondStatus: RequestStatus;
  let attempts: Attempts;

  beforeAll(async () => {
    bed = await startWebhookBed({ WEBHOOK_TIMEOUT_MS: '2000', WEBHOOK_RETRY_DELAYS_MS: '60000' });
    const hanging = await bed.receiver(answerNever);
    const other = await bed.receiver();

    const firstId = await bed.upload(owner, hanging.url);
    const [hook] = await hanging.nth(1);
    events.push('webhook attempt started');
    const timedOut = hook?.closed.then(() => events.push('webhook attempt timed out'));
    // A second request, of another owner, whose webhook goes to a receiver that answers at once.
    const secondId = await bed.upload('ken', other.url);
    const otherDelivered = other.nth(1).then(() => events.push('other webhook delivered'));
    secondStatus = await bed.service.waitForEnd(secondId);
    events.push('second request ended');
    await Promise.all([timedOut, otherDelivered]);
    attempts = await bed.attemptsWhen(owner, firstId, (list) => list.length > 0);
  });
  afterAll(async () => {
    await bed.close();
  });

  it("finishes another request's images while the webhook attempt hangs", () => {
    expect(
      seen('webhook attempt started', 'second request ended', 'webhook attempt timed out'),
    ).toEqual(['webhook attempt started', 'second request ended', 'webhook attempt timed out']);
    expect(secondStatus).toBe('COMPLETED');
  });

  it("delivers another owner's webhook while the attempt to the silent receiver hangs", () => {
    expect(
      seen('webhook attempt started', 'other webhook delivered', 'webhook attempt timed out'),
    ).toEqual(['webhook attempt started', 'other webhook delivered', 'webhook attempt timed out']);
  });

  it('ends the hanging attempt at the time-out and schedules a retry', () => {
    expect(attempts.map((a) => [a.attempt, a.error])).toEqual([
      [1, 'The server did not answer within 2 seconds'],
    ]);
    expect(attempts[0]?.nextAttemptAt).not.toBeNull();
  });
});
