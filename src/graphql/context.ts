import type { Viewer } from '../domain/viewer.ts';

/** What every resolver receives, over HTTP and WebSocket alike. */
export interface GraphQLContext {
  viewer: Viewer;
}
