import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Sample } from './helpers/metrics.ts';
import { scrape, valueOf } from './helpers/metrics.ts';
import type { UploadBody } from './helpers/service.ts';
import type { WebhookBed } from './helpers/webhooks.ts';
import { pollUntil, startWebhookBed } from './helpers/webhooks.ts';

const METRICS_TOKEN = 'scrape-token-for-the-metrics-test';
const P = 'image_pipeline_';

let bed: WebhookBed;
let requestId: string;
let samples: Sample[];

beforeAll(async () => {
  bed = await startWebhookBed({ METRICS_TOKEN });
  const receiver = await bed.receiver();
  const { service, images } = bed;
  const csv = [
    'S. No.,Product Name,Input Image Urls',
    `1,Lamp,"${images.url}/photo-landscape-0.3mp.jpg,${images.url}/1x1.png"`,
    `2,Broken,${images.url}/not-an-image.jpg`,
    '',
  ].join('\n');

  const res = await service.upload(csv, { variables: { webhookUrl: receiver.url } });
  requestId = ((await res.json()) as UploadBody).data?.uploadCsv.request.id ?? '';
  await service.waitForEnd(requestId);
  await fetch(`${service.url}/api/status/${requestId}`, {
    headers: { authorization: `Bearer ${service.token()}` },
  });
  // The webhook is sent after the request ends; its attempt is counted once recorded.
  samples = (
    await pollUntil(
      () => scrape(service.url, METRICS_TOKEN),
      (s) => valueOf(s.samples, `${P}webhook_attempts_total`, { outcome: 'delivered' }) === 1,
      20_000,
    )
  ).samples;
});
afterAll(async () => {
  await bed.close();
});

describe('GET /metrics with METRICS_TOKEN set', () => {
  it('answers 401 without a token, and with a wrong one', async () => {
    const none = await fetch(`${bed.service.url}/metrics`);
    const wrong = await scrape(bed.service.url, 'not-the-token');

    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    expect(wrong.status).toBe(401);
  });

  it('answers in the Prometheus text format with the token', async () => {
    const answer = await scrape(bed.service.url, METRICS_TOKEN);

    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(answer.text).toContain(`# TYPE ${P}images_completed_total counter`);
  });
});

describe('metrics after a real run', () => {
  it('counts the images completed and the one failed, by its error code', () => {
    expect(valueOf(samples, `${P}images_completed_total`)).toBe(2);
    expect(valueOf(samples, `${P}images_failed_total`, { reason: 'NOT_AN_IMAGE' })).toBe(1);
  });

  it('times every image in the processing histogram', () => {
    const count = `${P}image_processing_seconds_count`;

    expect(valueOf(samples, count, { status: 'COMPLETED' })).toBe(2);
    expect(valueOf(samples, count, { status: 'FAILED' })).toBe(1);
  });

  it('counts the webhook attempt as delivered, and reads an empty queue', () => {
    expect(valueOf(samples, `${P}webhook_attempts_total`, { outcome: 'delivered' })).toBe(1);
    expect(valueOf(samples, `${P}queue_depth`)).toBe(0);
  });

  it('times HTTP requests by route pattern, never by a path carrying an id', () => {
    const count = `${P}http_request_duration_seconds_count`;
    const routes = samples.filter((s) => s.name === count).map((s) => s.labels.route);

    expect(valueOf(samples, count, { method: 'POST', route: '/graphql', status: '200' })).toBe(1);
    expect(valueOf(samples, count, { method: 'GET', route: '/api/status/:requestId' })).toBe(1);
    expect(routes.filter((r) => r?.includes(requestId))).toEqual([]);
  });

  it('times the upload mutation by operation type and name', () => {
    const count = `${P}graphql_operation_duration_seconds_count`;

    expect(valueOf(samples, count, { type: 'mutation', name: 'Upload' })).toBe(1);
  });

  it('includes the default process metrics', () => {
    expect(valueOf(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });
});
