import type { App } from './app.ts';
import { closeApp, createApp, startWorker } from './app.ts';
import { createTokenVerifier, signToken } from './auth/jwt.ts';
import { loadOrCreateSecret } from './auth/jwt-secret.ts';
import type { Config } from './config.ts';
import { lockDataDir } from './db/data-dir-lock.ts';
import { createContainer } from './graphql/container.ts';
import { buildGraphQLSchema } from './graphql/schema.ts';
import { HttpServer } from './http/server.ts';
import type { Logger } from './observability/logger.ts';

/** A running service process: what `npm start` runs, and what tests start in-process. */
export interface Service {
  app: App;
  /** Where the HTTP server listens; undefined for ROLE=worker. */
  url: string | undefined;
  /** The HS256 secret in use, when tokens are checked with one. */
  jwtSecret: string | undefined;
  /** Stops taking work, waits up to the grace period for running images, closes everything. */
  stop(): Promise<void>;
}

/**
 * Starts the parts of the service that `config.role` asks for.
 *
 * @throws DataDirLockedError when another process uses the embedded data directory
 */
export async function startService(config: Config, logger: Logger): Promise<Service> {
  const unlock = config.database.url ? undefined : await lockDataDir(config.dataDir);
  const http = config.role === 'worker' ? undefined : await HttpServer.listen(config, logger);
  const publicUrl = http?.publicUrl ?? config.publicUrl ?? `http://localhost:${config.port}`;

  const app = await createApp(config, logger, publicUrl);
  if (config.role !== 'api') await startWorker(app);

  let jwtSecret = config.jwt.secret;
  if (http) {
    if (!config.jwt.secret && !config.jwt.publicKey) {
      const made = await loadOrCreateSecret(config.dataDir);
      if (made.created) logger.info('made a new JWT secret in the data directory');
      jwtSecret = made.secret;
    }
    const verifyToken = createTokenVerifier({ ...config.jwt, secret: jwtSecret });
    await http.mount(app, await buildGraphQLSchema(createContainer(app)), verifyToken);
  }

  return {
    app,
    url: http?.url,
    jwtSecret,
    stop: async () => {
      await http?.close();
      await closeApp(app, config.shutdownGraceMs);
      await unlock?.();
    },
  };
}

/** A token for `subject` signed with the service's secret (development and tests). */
export function devToken(service: Service, subject: string, admin = false): string {
  if (!service.jwtSecret) throw new Error('The service verifies tokens with a public key');
  return signToken(service.jwtSecret, subject, { admin });
}
