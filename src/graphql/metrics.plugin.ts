import { performance } from 'node:perf_hooks';

import type { ApolloServerPlugin } from '@apollo/server';

import type { Metrics } from '../observability/metrics.ts';

/**
 * Times every GraphQL operation served over HTTP, from the request's arrival to its answer,
 * labelled by operation type and name. A document that does not parse or validate, so has no
 * operation to run, is counted with the type `invalid`. Subscriptions run over graphql-ws,
 * outside Apollo, and are not timed here.
 */
export function graphqlMetricsPlugin(metrics: Metrics): ApolloServerPlugin {
  return {
    requestDidStart() {
      const started = performance.now();
      return Promise.resolve({
        willSendResponse({ operation, operationName }) {
          const seconds = (performance.now() - started) / 1000;
          metrics.graphqlOperation(operation?.operation ?? 'invalid', operationName, seconds);
          return Promise.resolve();
        },
      });
    },
  };
}
