import type { Viewer } from '../domain/viewer.ts';
import { ServiceError } from '../errors.ts';
import type {
  AttemptRecord,
  WebhookRecord,
  WebhookRepository,
} from '../repositories/webhook.repository.ts';
import { makeWebhookSecret } from '../webhooks/webhook.sender.ts';
import { validateWebhookUrl } from './processing-options.ts';
import type { RequestService } from './request.service.ts';
import { isUuid } from './request.service.ts';

/**
 * Active webhooks one owner may have. Every request that ends is posted to each of them, so
 * without a bound one token could make every request end fan out without limit.
 */
export const MAX_ACTIVE_WEBHOOKS = 25;

/** Registering webhooks and reading what was sent: what GraphQL calls. */
export class WebhookService {
  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly requests: RequestService,
  ) {}

  /**
   * Registers a URL to hear about every request of the viewer that ends.
   *
   * @returns the webhook and its signing secret, which is shown this once
   * @throws ServiceError `BAD_USER_INPUT` for a URL that is not http(s) or too long, or when
   *   the viewer already has `MAX_ACTIVE_WEBHOOKS` active webhooks
   */
  async register(viewer: Viewer, url: string): Promise<{ webhook: WebhookRecord; secret: string }> {
    const checked = validateWebhookUrl(url, 'url');
    if (!checked) throw new ServiceError('BAD_USER_INPUT', 'url must not be empty.');

    const secret = makeWebhookSecret();
    const created = await this.webhooks.createWithin(MAX_ACTIVE_WEBHOOKS, {
      ownerId: viewer.subject,
      url: checked,
      secret,
    });
    if ('active' in created) throw tooManyWebhooks(created.active);

    return { webhook: created, secret };
  }

  /** @returns false when the viewer has no active webhook with that id */
  async delete(viewer: Viewer, id: string): Promise<boolean> {
    return isUuid(id) ? this.webhooks.deactivate(viewer.subject, id) : false;
  }

  list(viewer: Viewer): Promise<WebhookRecord[]> {
    return this.webhooks.listActive(viewer.subject);
  }

  /** The secret that signs deliveries to the viewer's requests' own `webhookUrl`s. */
  signingSecret(viewer: Viewer): Promise<string> {
    return this.webhooks.ownerSecret(viewer.subject, makeWebhookSecret);
  }

  /**
   * Every attempt to deliver a request's webhooks.
   *
   * @throws ServiceError `NOT_FOUND` when the request is not the viewer's
   */
  async deliveries(viewer: Viewer, requestId: string): Promise<AttemptRecord[]> {
    await this.requests.require(viewer, requestId);
    return this.webhooks.listAttempts(requestId);
  }
}

function tooManyWebhooks(active: number): ServiceError {
  return new ServiceError(
    'BAD_USER_INPUT',
    `You have ${active} active webhooks, the most one owner may have (${MAX_ACTIVE_WEBHOOKS}); ` +
      'list them with the webhooks query and remove one with deleteWebhook(id) first.',
  );
}
