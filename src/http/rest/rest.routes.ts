import { Router } from 'express';
import type { Request } from 'express';

import type { App } from '../../app.ts';
import type { TokenVerifier } from '../../auth/jwt.ts';
import { requireViewer } from './auth.middleware.ts';
import { openApiDocument } from './openapi.ts';
import { restErrorHandler, sendError } from './rest.errors.ts';
import { outputCsvRoute, statusRoute } from './status.route.ts';
import { uploadRoute } from './upload.route.ts';

/**
 * The REST compatibility API: the same services, limits, rules and error codes as GraphQL.
 *
 * @param publicUrlFor - base of the URLs handed to the caller of a request (statusUrl,
 *   Location, the OpenAPI server)
 */
export function restRoutes(
  app: App,
  verifyToken: TokenVerifier,
  publicUrlFor: (req: Request) => string,
): Router {
  const router = Router();

  router.get('/api/openapi.json', (req, res) => {
    res.json(openApiDocument(publicUrlFor(req)));
  });

  const auth = requireViewer(verifyToken);
  router.post(
    '/api/upload',
    auth,
    uploadRoute({
      requests: app.requestService,
      maxCsvBytes: app.config.limits.csvBytes,
      defaultQuality: app.config.processing.defaultQuality,
      statusUrl: (req, id) => `${publicUrlFor(req)}/api/status/${id}`,
    }),
  );
  router.get('/api/status/:requestId', auth, statusRoute(app.requestService, app.storage));
  router.get(
    '/api/requests/:requestId/output.csv',
    auth,
    outputCsvRoute(app.requestService, app.storage),
  );
  router.use('/api', (_req, res) => {
    sendError(res, 'NOT_FOUND', 'No such API route.');
  });
  router.use('/api', restErrorHandler(app.logger));
  return router;
}
