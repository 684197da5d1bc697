import 'reflect-metadata';

import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { SubscribeResolverData } from 'type-graphql';

import type { ProgressService, ProgressUpdate } from '../../services/progress.service.ts';
import type { GraphQLContext } from '../context.ts';
import { RequestProgress } from '../types/request.types.ts';

/**
 * `requestProgress` over graphql-ws. type-graphql calls `subscribe` statically, so the service
 * comes from the context rather than the resolver instance.
 */
@Resolver()
export class ProgressResolver {
  @Subscription(() => RequestProgress, {
    description:
      'The current state at once, then every change (at most about five a second), then the final state; the stream then completes.',
    subscribe: ({
      args,
      context,
    }: SubscribeResolverData<unknown, { id: string }, GraphQLContext>) =>
      progressService(context).watch(context.viewer, args.id),
  })
  requestProgress(
    @Arg('id', () => ID) _id: string,
    @Root() update: ProgressUpdate,
  ): ProgressUpdate {
    return update;
  }
}

function progressService(context: GraphQLContext): ProgressService {
  if (!context.progress) throw new Error('Subscriptions are served over WebSocket only');
  return context.progress;
}
