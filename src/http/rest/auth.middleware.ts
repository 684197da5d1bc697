import type { RequestHandler, Response } from 'express';

import type { TokenVerifier } from '../../auth/jwt.ts';
import type { Viewer } from '../../domain/viewer.ts';
import { authenticateRequest } from '../../graphql/context.ts';

/**
 * Requires `Authorization: Bearer <JWT>` and keeps the viewer in `res.locals`. Cookies are never
 * read, so a browser cannot be tricked into an authenticated cross-site upload.
 */
export function requireViewer(verifyToken: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    res.locals.viewer = authenticateRequest(req, verifyToken).viewer;
    next();
  };
}

export function viewerOf(res: Response): Viewer {
  return res.locals.viewer as Viewer;
}
