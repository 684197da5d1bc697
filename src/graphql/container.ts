import type { ContainerType, ResolverData } from 'type-graphql';

import type { App } from '../app.ts';
import { ProgressResolver } from './resolvers/progress.resolver.ts';
import { RequestResolver } from './resolvers/request.resolver.ts';
import { UploadResolver } from './resolvers/upload.resolver.ts';
import { WebhookResolver } from './resolvers/webhook.resolver.ts';

/** Resolver instances wired to the app's services, handed to type-graphql by class. */
export function createContainer(app: App): ContainerType {
  const instances = new Map<unknown, unknown>([
    [RequestResolver, new RequestResolver(app.requestService, app.storage)],
    [ProgressResolver, new ProgressResolver()],
    [WebhookResolver, new WebhookResolver(app.webhookService)],
    [UploadResolver, new UploadResolver(app.requestService, app.config.processing.defaultQuality)],
  ]);
  return {
    get: (someClass: unknown, _data: ResolverData) => {
      const instance = instances.get(someClass);
      if (!instance) throw new Error('No resolver instance for this class');
      return instance;
    },
  };
}
