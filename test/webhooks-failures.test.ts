import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { WebhookReceiver } from './helpers/webhook-receiver.ts';
import { answerNever, answerTrickle } from './helpers/webhook-receiver.ts';
import type { Attempts, WebhookBed } from './helpers/webhooks.ts';
import { deliveryOver, FAST_WEBHOOKS, startWebhookBed } from './helpers/webhooks.ts';

/** The schedule in FAST_WEBHOOKS: four pauses, so five attempts. */
const ATTEMPTS = 5;
const TIMEOUT_MS = Number(FAST_WEBHOOKS.WEBHOOK_TIMEOUT_MS);
/**
 * How much sooner than its time-out an attempt may be recorded as ending. The time-out is a timer,
 * which libuv schedules from the event loop's clock, read once per loop turn and so up to a
 * millisecond behind; the recorded duration is read from `performance.now()` and rounded. An
 * attempt cut at 300 ms was recorded as 299 in one CI run.
 */
const CLOCK_SLACK_MS = 2;

describe('receivers that fail every attempt, on a service with fast webhook timings', () => {
  let bed: WebhookBed;

  beforeAll(async () => {
    bed = await startWebhookBed();
  });
  afterAll(async () => {
    await bed.close();
  });

  describe('receivers that never finish their answer (C-25 A and B)', () => {
    const owner = 'frank';
    const receivers = new Map<string, WebhookReceiver>();
    let attempts: Attempts;

    beforeAll(async () => {
      const silent = await bed.receiver(answerNever);
      const trickle = await bed.receiver(answerTrickle(100));
      receivers.set('silent', silent).set('trickle', trickle);
      await bed.register(owner, trickle.url);

      const requestId = await bed.upload(owner, silent.url);
      attempts = await bed.attemptsWhen(
        owner,
        requestId,
        (list) => deliveryOver(list, silent.url) && deliveryOver(list, trickle.url),
      );
    });

    const kinds = [
      { kind: 'silent', name: 'a receiver that never answers' },
      { kind: 'trickle', name: 'a receiver that trickles a 500 body' },
    ];

    it.each(kinds)('ends each attempt to $name at the time-out', ({ kind }) => {
      const url = receivers.get(kind)?.url;
      const durations = attempts.filter((a) => a.url === url).map((a) => a.durationMs ?? -1);

      expect(durations).toHaveLength(ATTEMPTS);
      expect(
        durations.filter((ms) => ms < TIMEOUT_MS - CLOCK_SLACK_MS || ms >= TIMEOUT_MS + 1000),
      ).toEqual([]);
    });

    it.each(kinds)(
      'retries $name on schedule, then gives up after the last attempt',
      ({ kind }) => {
        const receiver = receivers.get(kind);
        const mine = attempts.filter((a) => a.url === receiver?.url);
        const last = mine.at(-1);

        expect(mine.map((a) => [a.attempt, a.nextAttemptAt !== null])).toEqual([
          [1, true],
          [2, true],
          [3, true],
          [4, true],
          [5, false],
        ]);
        expect(receiver?.received).toHaveLength(ATTEMPTS);
        expect([last?.statusCode, last?.error]).toEqual([
          null,
          `The server did not answer within ${TIMEOUT_MS} milliseconds`,
        ]);
      },
    );
  });

  describe('a receiver that answers with a redirect to another loopback receiver', () => {
    const owner = 'grace';
    let redirecting: WebhookReceiver;
    let target: WebhookReceiver;
    let attempts: Attempts;

    beforeAll(async () => {
      target = await bed.receiver();
      redirecting = await bed.receiver((res) => {
        res.writeHead(302, { location: target.url }).end();
      });

      const requestId = await bed.upload(owner, redirecting.url);
      attempts = await bed.attemptsWhen(owner, requestId, (list) =>
        deliveryOver(list, redirecting.url),
      );
    });

    it('records HTTP 302 as the answer, with an error saying redirects are not followed', () => {
      const [first] = attempts;

      expect(first?.statusCode).toBe(302);
      expect(first?.error).toMatch(/redirect.*not followed/i);
      expect(attempts.every((a) => a.deliveredAt === null)).toBe(true);
    });

    it("sends nothing to the redirect's target", () => {
      expect(redirecting.received).toHaveLength(ATTEMPTS);
      expect(target.connections).toBe(0);
    });
  });
});

describe('a webhookUrl on a blocked address, with ALLOW_PRIVATE_NETWORK=false (C-25 D, C-26)', () => {
  const owner = 'heidi';
  let bed: WebhookBed;
  let canary: WebhookReceiver;
  let url: string;
  let named: string;
  let status: string;
  let attempts: Attempts;

  beforeAll(async () => {
    bed = await startWebhookBed({ ALLOW_PRIVATE_NETWORK: 'false' });
    canary = await bed.receiver();
    url = canary.url;
    named = url.replace('127.0.0.1', 'localhost');
    await bed.register(owner, named);

    // The image is on loopback too, so it is refused as well and the request ends FAILED.
    const requestId = await bed.upload(owner, url);
    status = await bed.service.waitForEnd(requestId);
    attempts = await bed.attemptsWhen(
      owner,
      requestId,
      (list) => deliveryOver(list, url) && deliveryOver(list, named),
    );
  });
  afterAll(async () => {
    await bed.close();
  });

  it('tries once for a request that ended FAILED and, refused, does not try again', () => {
    expect(status).toBe('FAILED');
    expect(attempts.map((a) => a.url).sort()).toEqual([url, named].sort());
    expect(attempts[0]).toMatchObject({ statusCode: null, deliveredAt: null, nextAttemptAt: null });
  });

  it('records an error saying the address is not allowed', () => {
    expect(attempts.find((a) => a.url === url)?.error).toBe(
      'The address 127.0.0.1 is a loopback address, which is not allowed',
    );
  });

  it('refuses a name without saying what it resolved to, which only the log keeps', () => {
    const attempt = attempts.find((a) => a.url === named);
    const logged = bed.service
      .logs()
      .split('\n')
      .filter((line) => line.includes('"webhook attempt"') && line.includes('localhost'));

    expect(attempt?.error).toBe(
      'The host localhost resolves to a loopback address, which is not allowed',
    );
    expect(logged.map((line) => (JSON.parse(line) as { address?: string }).address)).toEqual([
      '127.0.0.1',
    ]);
  });

  it('refuses before connecting: the canary is never reached', () => {
    expect(canary.connections).toBe(0);
    expect(bed.images.hits.size).toBe(0);
  });
});
