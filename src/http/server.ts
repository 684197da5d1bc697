import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

import { ApolloServer } from '@apollo/server';
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import type { GraphQLSchema } from 'graphql';
import { graphqlUploadExpress } from 'graphql-upload-ts';

import type { App } from '../app.ts';
import type { TokenVerifier } from '../auth/jwt.ts';
import type { Config } from '../config.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import { authFromHeaders } from '../graphql/context.ts';
import type { Logger } from '../observability/logger.ts';
import { createErrorFormatter } from './graphql.errors.ts';
import { healthRoutes } from './health.routes.ts';
import { complexityPlugin, parseOptions, queryProtection } from '../graphql/limits.ts';
import { graphqlMetricsPlugin } from '../graphql/metrics.plugin.ts';
import { graphqlBodyErrors, guardMultipart, lastResort, notFound } from './guards.ts';
import { checkMultipart, multipartProblem, processCheckedRequest } from './multipart-check.ts';
import { httpMetrics, metricsRoutes } from './metrics.routes.ts';
import { rateLimitStores } from './rate-limit.store.ts';
import type { RateLimitStores } from './rate-limit.store.ts';
import { rateLimits } from './rate-limits.ts';
import { requestContext } from './request-context.ts';
import { restRoutes } from './rest/rest.routes.ts';
import { corsPolicy, securityHeaders } from './security-headers.ts';
import { attachSubscriptionServer } from './subscriptions.ts';
import { defaultWebDir, webRoutes } from './web.ts';

/**
 * The HTTP(S) server. It listens first, answering `/healthz` (and `/readyz` with 503) while
 * the rest of the service starts, so the port bound is known to build public URLs; `mount`
 * then adds GraphQL and the other routes.
 */
export class HttpServer {
  readonly server: http.Server;
  private readonly express = express();
  private apollo: ApolloServer<GraphQLContext> | undefined;
  private app: App | undefined;
  private rateLimitStores: RateLimitStores | undefined;
  private closing: Promise<void> | undefined;
  /**
   * The port bound at listen time. `server.address()` turns null once `close()` has begun,
   * while requests still in flight go on building URLs from it.
   */
  private boundPort = 0;

  private constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    tls: { cert: Buffer; key: Buffer } | undefined,
  ) {
    this.express.disable('x-powered-by');
    this.express.set('trust proxy', config.trustProxy);
    this.express.use(requestContext(logger));
    this.express.use(httpMetrics(() => this.app?.metrics));
    this.express.use(securityHeaders());
    this.express.use(['/graphql', '/api'], corsPolicy(config.corsOrigins));
    this.express.use(healthRoutes(() => this.app));
    this.express.use(metricsRoutes(() => this.app?.metrics, config.metricsToken));
    this.server = tls ? https.createServer(tls, this.express) : http.createServer(this.express);
  }

  /** Creates the server and binds `PORT` on `HOST`. */
  static async listen(config: Config, logger: Logger): Promise<HttpServer> {
    const tls = config.tls && {
      cert: await readFile(config.tls.certFile),
      key: await readFile(config.tls.keyFile),
    };
    const instance = new HttpServer(config, logger, tls);
    await new Promise<void>((resolve, reject) => {
      instance.server.once('error', reject);
      instance.server.listen(config.port, config.host, () => {
        instance.server.off('error', reject);
        instance.boundPort = (instance.server.address() as AddressInfo).port;
        resolve();
      });
    });
    return instance;
  }

  /** Where the server listens, e.g. http://127.0.0.1:4000. */
  get url(): string {
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    return `${this.config.tls ? 'https' : 'http'}://${host}:${this.boundPort}`;
  }

  /** The base of URLs handed to clients: PUBLIC_URL, or localhost on the bound port. */
  get publicUrl(): string {
    return (
      this.config.publicUrl ?? `${this.config.tls ? 'https' : 'http'}://localhost:${this.boundPort}`
    );
  }

  /**
   * The base of URLs handed to the client of `req`: PUBLIC_URL when set; behind a trusted
   * proxy, the scheme and host it forwarded (`X-Forwarded-Proto`, `X-Forwarded-Host`);
   * otherwise {@link publicUrl}.
   */
  publicUrlFor(req: express.Request): string {
    if (this.config.publicUrl || this.config.trustProxy === false) return this.publicUrl;
    return `${req.protocol}://${req.host}`;
  }

  /** Adds GraphQL and the file routes, served by `app`. */
  async mount(app: App, schema: GraphQLSchema, verifyToken: TokenVerifier): Promise<void> {
    const { config, logger } = this;
    const formatError = createErrorFormatter(logger);
    const protection = queryProtection(config.graphql);
    const closeSubscriptions = attachSubscriptionServer(this.server, {
      schema,
      verifyToken,
      progress: app.progressService,
      formatError,
      validationRules: protection.validationRules,
      logger,
      ...config.websocket,
    });
    this.apollo = new ApolloServer<GraphQLContext>({
      schema,
      csrfPrevention: true,
      includeStacktraceInErrorResponses: false,
      // The process's own signal handlers stop everything in order (src/main.ts).
      stopOnTerminationSignals: false,
      formatError,
      allowBatchedHttpRequests: false,
      parseOptions: parseOptions(config.graphql),
      validationRules: protection.validationRules,
      plugins: [
        // The armour's plugins read no context, so they serve any context type.
        ...(protection.plugins as ApolloServerPlugin<GraphQLContext>[]),
        complexityPlugin(schema, config.graphql.maxComplexity),
        graphqlMetricsPlugin(app.metrics),
        // Requests in flight, uploads being stored among them, get the whole grace period (a
        // large upload takes longer than the plugin's 10 s by default).
        ApolloServerPluginDrainHttpServer({
          httpServer: this.server,
          stopGracePeriodMillis: this.config.shutdownGraceMs,
        }),
        // The service serves its own playground (src/http/web.ts) instead of Apollo's page.
        ApolloServerPluginLandingPageDisabled(),
        { serverWillStart: () => Promise.resolve({ drainServer: closeSubscriptions }) },
      ],
    });
    await this.apollo.start();

    this.express.use(
      webRoutes({ distDir: defaultWebDir(), playground: config.playground, logger }),
    );
    this.rateLimitStores = await rateLimitStores(
      config.redisUrl,
      config.rateLimits.redisPrefix,
      logger,
    );
    const limits = rateLimits(config.rateLimits, verifyToken, this.rateLimitStores, logger);
    this.express.use(['/graphql', '/api'], ...limits);
    this.express.use(restRoutes(app, verifyToken, (req) => this.publicUrlFor(req)));
    // Objects in S3 are read from S3 (S3_PUBLIC_URL or presigned URLs), never through here.
    if (app.storage.kind === 'local') {
      this.express.use(
        '/files',
        express.static(config.storage.filesDir, {
          dotfiles: 'deny',
          index: false,
          // A folder is not a file: no redirect that would tell a request's folder exists.
          redirect: false,
          immutable: true,
          maxAge: '7d',
          // Output images are meant to be embedded by other sites' pages.
          setHeaders: (res) => {
            res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
          },
        }),
        (_req: express.Request, res: express.Response) => {
          res.status(404).json({ error: { code: 'NOT_FOUND', message: 'No such file.' } });
        },
      );
    }
    this.express.use(
      '/graphql',
      // Refused before any byte of the body is read or written to a temporary file.
      guardMultipart(verifyToken),
      checkMultipart,
      graphqlUploadExpress({
        maxFileSize: config.limits.csvBytes,
        maxFiles: 1,
        processRequest: processCheckedRequest,
        // Set explicitly: a custom processRequest would otherwise turn it on.
        overrideSendResponse: false,
      }),
      express.json({ limit: '1mb' }),
      expressMiddleware(this.apollo, {
        context: ({ req }) =>
          Promise.resolve({
            viewer: authFromHeaders(req, verifyToken).viewer,
            multipartProblem: multipartProblem(req),
          }),
      }),
    );
    this.express.use('/graphql', graphqlBodyErrors);
    this.express.use(notFound);
    this.express.use(lastResort(logger));
    this.app = app;
  }

  /**
   * Serves only the probes from `app`: what a worker process listens for. Routes every role
   * serves (such as `/metrics`) belong in the constructor, next to the probes.
   */
  serveProbesOnly(app: App): void {
    this.express.use(notFound);
    this.express.use(lastResort(this.logger));
    this.app = app;
  }

  /** Stops accepting connections and waits for requests in flight. Safe to call twice. */
  close(): Promise<void> {
    // Apollo 5's stop() never settles for a second caller while the first is running.
    this.closing ??= (
      this.apollo
        ? this.apollo.stop()
        : new Promise<void>((resolve) => {
            this.server.close(() => {
              resolve();
            });
          })
    ).then(() => this.rateLimitStores?.close());
    return this.closing;
  }
}
