import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prefix of every metric this service defines; the process metrics keep their usual names. */
const PREFIX = 'image_pipeline_';

/** Seconds, from a few milliseconds to two minutes: an image fetch and encode, a request. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * Distinct GraphQL operation names kept as labels; names after these are counted as `other`.
 * Clients choose the names, so without a bound any client could grow the registry at will.
 */
const MAX_OPERATION_NAMES = 100;

/** What the metrics read from the rest of the service when scraped. */
export interface MetricsSources {
  /** Jobs waiting in the queue (`JobQueue.depth`). */
  queueDepth: () => Promise<number>;
}

/** How one webhook attempt ended, as the delivery worker logs it. */
export type WebhookAttemptOutcome = 'delivered' | 'retrying' | 'failed';

/**
 * The Prometheus metrics of one service instance, in a registry of its own (several instances
 * may share a process, as in the tests). Names are listed in README.md.
 */
export class Metrics {
  readonly registry = new Registry();

  private readonly imagesCompleted = new Counter({
    name: `${PREFIX}images_completed_total`,
    help: 'Images processed and stored.',
    registers: [this.registry],
  });

  private readonly imagesFailed = new Counter({
    name: `${PREFIX}images_failed_total`,
    help: 'Images that failed, by reason (error code).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly imageSeconds = new Histogram({
    name: `${PREFIX}image_processing_seconds`,
    help: 'Time to download, transform and store one image, by final status.',
    labelNames: ['status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  private readonly webhookAttempts = new Counter({
    name: `${PREFIX}webhook_attempts_total`,
    help: 'Webhook delivery attempts, by outcome (delivered, retrying, failed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly httpSeconds = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'HTTP requests, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  private readonly graphqlSeconds = new Histogram({
    name: `${PREFIX}graphql_operation_duration_seconds`,
    help: 'GraphQL operations over HTTP, by operation type and name.',
    labelNames: ['type', 'name'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  private readonly operationNames = new Set<string>();

  constructor(sources: MetricsSources) {
    new Gauge({
      name: `${PREFIX}queue_depth`,
      help: 'Image jobs waiting in the queue, read at each scrape.',
      registers: [this.registry],
      async collect() {
        // An unreachable queue leaves the last value; /readyz is where it is reported.
        const depth = await sources.queueDepth().catch(() => undefined);
        if (depth !== undefined) this.set(depth);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Records one image's end; `reason` is the error code of a failure. */
  imageEnded(status: 'COMPLETED' | 'FAILED', seconds: number, reason?: string): void {
    if (status === 'COMPLETED') this.imagesCompleted.inc();
    else this.imagesFailed.inc({ reason: reason ?? 'UNKNOWN' });
    this.imageSeconds.observe({ status }, seconds);
  }

  webhookAttempt(outcome: WebhookAttemptOutcome): void {
    this.webhookAttempts.inc({ outcome });
  }

  /** Records one HTTP request; `route` must be a pattern (`/api/status/:requestId`), not a path. */
  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpSeconds.observe({ method, route, status: String(status) }, seconds);
  }

  /** Records one GraphQL operation; `type` is `query`, `mutation`, `subscription` or `invalid`. */
  graphqlOperation(type: string, name: string | null | undefined, seconds: number): void {
    this.graphqlSeconds.observe({ type, name: this.operationLabel(name) }, seconds);
  }

  /** The whole registry in the Prometheus text format. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private operationLabel(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_NAMES || name.length > 64) return 'other';
    this.operationNames.add(name);
    return name;
  }
}
