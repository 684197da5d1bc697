import { PassThrough } from 'node:stream';

import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { createLogger } from '../src/observability/logger.ts';
import { WebhookSigningSecretDocument } from './generated/graphql.ts';
import type { UploadBody } from './helpers/service.ts';
import type { WebhookBed } from './helpers/webhooks.ts';
import { oneImageCsv, startWebhookBed } from './helpers/webhooks.ts';
import type { WebhookReceiver } from './helpers/webhook-receiver.ts';
import { subscribeOnce, wsUrl } from './helpers/ws.ts';

/**
 * A full run at LOG_LEVEL=debug (so every line any layer writes is captured): uploads, a live
 * subscription, webhook deliveries and refused tokens, then a search of everything logged for
 * each secret the run handled (case C-28).
 */
describe('what the logs of a full run never contain', () => {
  let bed: WebhookBed;
  let receiver: WebhookReceiver;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    bed = await startWebhookBed();
    receiver = await bed.receiver();
    const jwtSecret = bed.service.service.jwtSecret ?? '';
    const owner = 'log-owner';
    const claims = { note: 'tok-SECRET-123' };
    const token = jwt.sign(claims, jwtSecret, { subject: owner, expiresIn: 600 });
    const forged = jwt.sign(claims, 'x'.repeat(40), { subject: owner });
    Object.assign(secrets, {
      jwtSecret,
      token,
      forged,
      tokenMarker: 'tok-SECRET-123',
      hookQuery: 'hook-SECRET-999',
      registeredQuery: 'q-SECRET-789',
      imagePassword: 'pw-SECRET-555',
    });

    const registered = await bed.register(owner, `${receiver.url}?token=q-SECRET-789`);
    secrets.webhookSecret = registered.secret;
    const signing = await bed.graphql(owner, WebhookSigningSecretDocument, {});
    secrets.signingSecret = signing.data?.webhookSigningSecret ?? 'missing-signing-secret';

    const res = await bed.service.upload(oneImageCsv(bed.images.url), {
      token,
      variables: { webhookUrl: `${receiver.url}?sig=hook-SECRET-999` },
    });
    const requestId = ((await res.json()) as UploadBody).data?.uploadCsv.request.id ?? '';
    await subscribeOnce(bed.service.url, token, requestId);
    await receiver.nth(2);

    // A password in an image URL, and refused tokens on every transport.
    const port = new URL(bed.images.url).port;
    await bed.service.upload(
      `S. No.,Product Name,Input Image Urls\n1,A,http://u:pw-SECRET-555@127.0.0.1:${port}/1x1.png\n`,
      { token },
    );
    await bed.service.upload('S. No.,Product Name,Input Image Urls\n1,A,x\n', { token: forged });
    await fetch(`${bed.service.url}/api/status/${requestId}`, {
      headers: { authorization: `Bearer ${forged}` },
    });
    const socket = new WebSocket(wsUrl(bed.service.url), 'graphql-transport-ws');
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(
      JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${forged}` } }),
    );
    await new Promise((resolve) => socket.once('close', resolve));
  });
  afterAll(async () => {
    await bed.close();
  });

  it('captured the run: uploads, the subscription and both deliveries were logged', () => {
    const logs = bed.service.logs();

    expect(logs).toContain('request uploaded');
    expect(receiver.received.length).toBeGreaterThanOrEqual(2);
    expect(logs.split('\n').length).toBeGreaterThan(20);
  });

  it.each([
    'jwtSecret',
    'token',
    'forged',
    'tokenMarker',
    'webhookSecret',
    'signingSecret',
    'hookQuery',
    'registeredQuery',
    'imagePassword',
  ])('has no trace of the %s', (name) => {
    const value = secrets[name] ?? '';

    expect(value.length).toBeGreaterThan(8);
    expect(bed.service.logs()).not.toContain(value);
  });
});

describe('the logger level', () => {
  it('writes no debug line at LOG_LEVEL=info, whatever the transport', () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const logger = createLogger({ level: 'info', format: 'json', stream });

    logger.debug('authorization=Bearer abc');
    logger.info('kept');

    expect(lines.join('')).not.toContain('abc');
    expect(lines.join('')).toContain('kept');
  });
});
