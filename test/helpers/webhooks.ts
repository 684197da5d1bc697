import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

import type { RegisterWebhookMutation, WebhookDeliveriesQuery } from '../generated/graphql.ts';
import { RegisterWebhookDocument, WebhookDeliveriesDocument } from '../generated/graphql.ts';
import type { ImageServer } from './image-server.ts';
import { startImageServer } from './image-server.ts';
import type { GraphQLResponse, TestService, UploadBody } from './service.ts';
import { startTestService } from './service.ts';
import type { HookAnswer, ReceivedHook, WebhookReceiver } from './webhook-receiver.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

export type Attempts = WebhookDeliveriesQuery['webhookDeliveries'];
export type Registered = RegisterWebhookMutation['registerWebhook'];

/** Webhook timings that keep a whole retry schedule (5 attempts) within about 3 seconds. */
export const FAST_WEBHOOKS: Readonly<Record<string, string>> = {
  WEBHOOK_TIMEOUT_MS: '300',
  WEBHOOK_RETRY_DELAYS_MS: '100,200,400,800',
  WEBHOOK_POLL_MS: '50',
};

/** How long a wait on recorded attempts lasts before the test asserts on what is there. */
const ATTEMPTS_WAIT_MS = 20_000;

/** A CSV of one product, named with quotes and accents, whose one image is a 1×1 PNG. */
export function oneImageCsv(imagesUrl: string): string {
  return `S. No.,Product Name,Input Image Urls\n1,"Café ""Crème""",${imagesUrl}/1x1.png\n`;
}

/** A test service, an image server and webhook receivers, stopped together. */
export interface WebhookBed {
  service: TestService;
  images: ImageServer;
  /** Runs a GraphQL operation as `owner` (a token for that subject), or without a token. */
  graphql<T, V>(
    owner: string | null,
    document: TypedDocumentNode<T, V>,
    variables: V,
  ): Promise<GraphQLResponse<T>>;
  /** Starts a receiver that is closed with the bed. */
  receiver(answer?: HookAnswer): Promise<WebhookReceiver>;
  /** Uploads `oneImageCsv` as `owner` and resolves with the request's id. */
  upload(owner: string, webhookUrl: string | null, fileName?: string): Promise<string>;
  register(owner: string, url: string): Promise<Registered>;
  attempts(owner: string, requestId: string): Promise<Attempts>;
  /** Resolves with the request's attempts once `done` holds for them (or the wait runs out). */
  attemptsWhen(
    owner: string,
    requestId: string,
    done: (attempts: Attempts) => boolean,
  ): Promise<Attempts>;
  close(): Promise<void>;
}

export async function startWebhookBed(env: Record<string, string> = {}): Promise<WebhookBed> {
  const [service, images] = await Promise.all([
    startTestService({ ...FAST_WEBHOOKS, ...env }),
    startImageServer(),
  ]);
  const receivers: WebhookReceiver[] = [];

  const graphql = <T, V>(owner: string | null, document: TypedDocumentNode<T, V>, variables: V) =>
    service.graphql(document, variables, owner === null ? null : service.token(owner));
  const attempts = async (owner: string, requestId: string) => {
    const { data } = await graphql(owner, WebhookDeliveriesDocument, { requestId });
    return data?.webhookDeliveries ?? [];
  };

  return {
    service,
    images,
    graphql,
    async receiver(answer) {
      const started = await startWebhookReceiver(answer);
      receivers.push(started);
      return started;
    },
    async upload(owner, webhookUrl, fileName) {
      const res = await service.upload(oneImageCsv(images.url), {
        token: service.token(owner),
        variables: { webhookUrl },
        ...(fileName && { fileName }),
      });
      const body = (await res.json()) as UploadBody;
      const id = body.data?.uploadCsv.request.id;
      if (!id) throw new Error(`upload refused: ${JSON.stringify(body.errors)}`);
      return id;
    },
    async register(owner, url) {
      const { data, errors } = await graphql(owner, RegisterWebhookDocument, { url });
      if (!data) throw new Error(`registerWebhook refused: ${JSON.stringify(errors)}`);
      return data.registerWebhook;
    },
    attempts,
    attemptsWhen: (owner, requestId, done) =>
      pollUntil(() => attempts(owner, requestId), done, ATTEMPTS_WAIT_MS),
    async close() {
      await service.stop();
      await Promise.all([images.close(), ...receivers.map((r) => r.close())]);
    },
  };
}

/** Whether `hook` verifies with `secret` under the Standard Webhooks scheme, over its raw bytes. */
export function verifies(secret: string, hook: ReceivedHook | undefined): boolean {
  if (!hook) return false;
  try {
    new Webhook(secret).verify(hook.body, hook.headers);
    return true;
  } catch (error: unknown) {
    if (error instanceof WebhookVerificationError) return false;
    throw error;
  }
}

/**
 * Reads `read` every 25 ms until `done` holds or `ms` pass, and resolves with the last value
 * read: the caller asserts on it, so a wait that ran out shows what was there instead.
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** True once the delivery to `url` is over: an attempt left no next attempt due. */
export function deliveryOver(
  attempts: readonly { url: string; nextAttemptAt: string | null }[],
  url: string,
): boolean {
  return attempts.some((a) => a.url === url && a.nextAttemptAt === null);
}
