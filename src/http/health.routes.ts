import { Router } from 'express';

import type { App } from '../app.ts';

const CHECK_TIMEOUT_MS = 2_000;

/** `ok`, or why the dependency did not answer. */
async function check(probe: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error('timed out'));
    }, CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch (error: unknown) {
    return error instanceof Error ? error.message : 'unreachable';
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz`: the process serves. `/readyz`: every dependency answers, else 503. */
export function healthRoutes(getApp: () => App | undefined): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const app = getApp();
    if (!app) {
      res.status(503).json({ status: 'starting' });
      return;
    }
    const [database, queue, storage, events] = await Promise.all([
      check(() => app.db.ping()),
      check(() => app.queue.ping()),
      check(() => app.storage.ping()),
      check(() => app.events.ping()),
    ]);
    const checks = { database, queue, storage, events };
    const ready = Object.values(checks).every((v) => v === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });

  return router;
}
