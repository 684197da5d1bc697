import 'reflect-metadata';

import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';

import type { AttemptRecord, WebhookRecord } from '../../repositories/webhook.repository.ts';
import type { WebhookService } from '../../services/webhook.service.ts';
import type { GraphQLContext } from '../context.ts';
import { RegisterWebhookPayload, Webhook, WebhookDelivery } from '../types/webhook.types.ts';

@Resolver()
export class WebhookResolver {
  constructor(private readonly service: WebhookService) {}

  @Query(() => [Webhook], { description: 'Your active webhooks.' })
  webhooks(@Ctx() { viewer }: GraphQLContext): Promise<WebhookRecord[]> {
    return this.service.list(viewer);
  }

  @Query(() => String, {
    description: "Signs deliveries to your requests' own webhookUrl; made on first use.",
  })
  webhookSigningSecret(@Ctx() { viewer }: GraphQLContext): Promise<string> {
    return this.service.signingSecret(viewer);
  }

  @Query(() => [WebhookDelivery], { description: "Every attempt to deliver a request's webhooks." })
  webhookDeliveries(
    @Arg('requestId', () => ID) requestId: string,
    @Ctx() { viewer }: GraphQLContext,
  ): Promise<AttemptRecord[]> {
    return this.service.deliveries(viewer, requestId);
  }

  @Mutation(() => RegisterWebhookPayload)
  registerWebhook(
    @Arg('url', () => String) url: string,
    @Ctx() { viewer }: GraphQLContext,
  ): Promise<{ webhook: WebhookRecord; secret: string }> {
    return this.service.register(viewer, url);
  }

  @Mutation(() => Boolean, { description: 'False when you have no such webhook.' })
  deleteWebhook(
    @Arg('id', () => ID) id: string,
    @Ctx() { viewer }: GraphQLContext,
  ): Promise<boolean> {
    return this.service.delete(viewer, id);
  }
}
