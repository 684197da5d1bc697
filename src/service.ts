import type { App } from './app.ts';
import { closeApp, createApp, startWorker } from './app.ts';
import { createTokenVerifier, signToken } from './auth/jwt.ts';
import { ProductSpool } from './csv/csv.spool.ts';
import { loadOrCreateSecret } from './auth/jwt-secret.ts';
import type { Config } from './config.ts';
import { lockDataDir } from './db/data-dir-lock.ts';
import { createContainer } from './graphql/container.ts';
import { buildGraphQLSchema } from './graphql/schema.ts';
import { HttpServer } from './http/server.ts';
import type { Logger } from './observability/logger.ts';
import type { RecoveryOptions } from './processing/recovery.ts';

/** A running service process: what `npm start` runs, and what tests start in-process. */
export interface Service {
  app: App;
  /** Where the HTTP server listens; for ROLE=worker it serves only the probes. */
  url: string;
  /** The HS256 secret in use, when tokens are checked with one. */
  jwtSecret: string | undefined;
  /** Stops taking work, waits up to the grace period for running images, closes everything. */
  stop(): Promise<void>;
}

/** Settings of a service started in-process that the environment does not carry. */
export interface ServiceOptions {
  /** Timing of the recovery sweep in worker processes; its defaults otherwise. */
  recovery?: RecoveryOptions;
}

/**
 * Starts the parts of the service that `config.role` asks for.
 *
 * @throws DataDirError when the embedded data directory is another process's, or unusable
 */
export async function startService(
  config: Config,
  logger: Logger,
  options: ServiceOptions = {},
): Promise<Service> {
  const unlock = config.database.url ? undefined : await lockDataDir(config.dataDir);
  let http: HttpServer | undefined;
  let app: App | undefined;
  try {
    http = await HttpServer.listen(config, logger);
    const orphans = await ProductSpool.removeOrphans();
    if (orphans > 0) {
      logger.info('deleted the temporary files of uploads a stopped process left', { orphans });
    }
    app = await createApp(config, logger, http.publicUrl);
    if (config.role !== 'api') await startWorker(app, options.recovery);
    let jwtSecret = config.jwt.secret;
    if (config.role === 'worker') http.serveProbesOnly(app);
    else jwtSecret = await mountApi(http, app, config, logger);

    const [started, server] = [app, http];
    return {
      app: started,
      url: server.url,
      jwtSecret,
      stop: async () => {
        // One grace period for the whole stop: requests in flight first (uploads need the
        // database), then the images still being processed, with what is left of it.
        const deadline = Date.now() + config.shutdownGraceMs;
        await server.close();
        // Uploads still being read or stored when the grace period ended will not be stored:
        // their clients' connections are closed, so they could not be told.
        await started.requestService.stop();
        await closeApp(started, Math.max(0, deadline - Date.now()));
        await ProductSpool.discardAll();
        await unlock?.();
      },
    };
  } catch (error: unknown) {
    // Whatever was opened is closed again, and the data directory is left free.
    await http?.close().catch(() => undefined);
    if (app) await closeApp(app, 0).catch(() => undefined);
    await unlock?.();
    throw error;
  }
}

/** Serves GraphQL, REST and files from `app`; returns the HS256 secret tokens are checked with. */
async function mountApi(
  http: HttpServer,
  app: App,
  config: Config,
  logger: Logger,
): Promise<string | undefined> {
  let jwtSecret = config.jwt.secret;
  if (!config.jwt.secret && !config.jwt.publicKey) {
    const made = await loadOrCreateSecret(config.dataDir);
    if (made.created) logger.info('made a new JWT secret in the data directory');
    jwtSecret = made.secret;
  }
  const verifyToken = createTokenVerifier({ ...config.jwt, secret: jwtSecret });
  await http.mount(app, await buildGraphQLSchema(createContainer(app)), verifyToken);
  return jwtSecret;
}

/** A token for `subject` signed with the service's secret (development and tests). */
export function devToken(service: Service, subject: string, admin = false): string {
  if (!service.jwtSecret) throw new Error('The service verifies tokens with a public key');
  return signToken(service.jwtSecret, subject, { admin });
}
