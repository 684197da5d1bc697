import type { ProgressPayload, ProgressSubscription, WsClient } from '../../test/helpers/ws.ts';
import { connectClient, within } from '../../test/helpers/ws.ts';
import type { PublishedEvent } from '../service.server.ts';
import type { BenchOptions } from './cli.ts';
import type { ChildService } from './service-child.ts';
import {
  control,
  settledStats,
  startChild,
  startGatedPhotoServer,
  stopChild,
  uploadPhotos,
} from './service-child.ts';
import { percentile } from './stats.ts';

/** Clients opened at once while subscribing; more makes the handshakes queue on the backlog. */
const OPEN_BATCH = 100;

/** Opens `count` clients subscribed to one request, a batch at a time, each with its first event. */
async function subscribeClients(service: ChildService, requestId: string, count: number) {
  const clients: WsClient[] = [];
  const subscriptions: ProgressSubscription[] = [];
  for (let opened = 0; opened < count; opened += OPEN_BATCH) {
    const batch = Array.from({ length: Math.min(OPEN_BATCH, count - opened) }, () =>
      connectClient(service.url, `Bearer ${service.token}`),
    );
    clients.push(...batch);
    const subscribed = batch.map((c) => c.subscribe(requestId));
    subscriptions.push(...subscribed);
    await within(Promise.all(subscribed.map((s) => s.firstEvent)), 60_000, 'first events');
  }
  return { clients, subscriptions };
}

/** What links a delivered event to the publication it stems from; null for a snapshot. */
function eventKey(event: Pick<ProgressPayload, 'status'> & Pick<PublishedEvent, 'image'>) {
  if (event.image) return `${event.image.id}:${event.image.status}`;
  return event.status === 'PENDING' || event.status === 'PROCESSING' ? null : 'terminal';
}

/** Delays (ms) from publication to arrival, over every keyed event of every subscriber. */
function delays(subscriptions: readonly ProgressSubscription[], published: PublishedEvent[]) {
  const publishedAt = new Map<string, number>();
  for (const event of published) {
    const key = eventKey(event);
    if (key && !publishedAt.has(key)) publishedAt.set(key, event.at);
  }
  const all: number[] = [];
  const terminal: number[] = [];
  for (const subscription of subscriptions) {
    for (const { data, receivedAt } of subscription.events) {
      const key = eventKey(data);
      const at = key === null ? undefined : publishedAt.get(key);
      if (at === undefined) continue;
      all.push(receivedAt - at);
      if (key === 'terminal') terminal.push(receivedAt - at);
    }
  }
  return { all: all.sort((a, b) => a - b), terminal: terminal.sort((a, b) => a - b) };
}

const kb = (bytes: number) => Math.round(bytes / 102.4) / 10;
const mb = (bytes: number) => Math.round(bytes / 104_857.6) / 10;

type Figures = Awaited<ReturnType<typeof measure>>;

/** Runs the scenario on a started child; `clients` collects every client opened, to close. */
async function measure(
  service: ChildService,
  photos: { url: string; open: () => void },
  { clients: clientCount, images }: { clients: number; images: number },
  clients: WsClient[],
) {
  const requestId = await uploadPhotos(service, photos.url, images);
  await control(service, `/watch?requestId=${requestId}`);
  // A first round of clients, closed again, so that code compiled and buffers grown on first
  // use are not counted per connection.
  const warmUp = await subscribeClients(service, requestId, Math.min(100, clientCount));
  clients.push(...warmUp.clients);
  await Promise.all(warmUp.clients.map((c) => c.dispose()));
  const before = await settledStats(service);

  const subscribing = Date.now();
  const { subscriptions, ...opened } = await subscribeClients(service, requestId, clientCount);
  clients.push(...opened.clients);
  const subscribeSeconds = (Date.now() - subscribing) / 1000;
  const withClients = await settledStats(service);

  const opening = Date.now();
  photos.open();
  const ends = await Promise.allSettled(subscriptions.map((s) => within(s.done, 300_000, 'end')));
  const processSeconds = (Date.now() - opening) / 1000;

  const delay = delays(subscriptions, await control<PublishedEvent[]>(service, '/published'));
  const events = subscriptions.reduce((n, s) => n + s.events.length, 0);
  return {
    clients: clientCount,
    images,
    subscribeSeconds,
    processSeconds,
    terminalReceived: ends.filter(
      (e) => e.status === 'fulfilled' && e.value.at(-1)?.data.status === 'COMPLETED',
    ).length,
    eventsPerSubscriber: Math.round((events / clientCount) * 10) / 10,
    delayMs: {
      p50: percentile(delay.all, 50),
      p99: percentile(delay.all, 99),
      n: delay.all.length,
    },
    terminalDelayMs: { p50: percentile(delay.terminal, 50), p99: percentile(delay.terminal, 99) },
    serverRssMB: { before: mb(before.rss), withClients: mb(withClients.rss) },
    perConnectionKB: {
      rss: kb((withClients.rss - before.rss) / clientCount),
      heapUsed: kb((withClients.heapUsed - before.heapUsed) / clientCount),
    },
  };
}

function report(f: Figures, print: (line: string) => void): void {
  print(`subscriptions: ${f.clients} graphql-ws clients on one request of ${f.images} photos`);
  print(`all clients subscribed, first event each, in ${f.subscribeSeconds.toFixed(1)} s`);
  print(`terminal event received by ${f.terminalReceived}/${f.clients} subscribers`);
  print(`photos let through to the last terminal event: ${f.processSeconds.toFixed(1)} s`);
  print(`events per subscriber: ${f.eventsPerSubscriber}`);
  print(`delay, publication to delivery: p50 ${f.delayMs.p50} ms, p99 ${f.delayMs.p99} ms`);
  print(
    `delay of the terminal event: p50 ${f.terminalDelayMs.p50} ms, p99 ${f.terminalDelayMs.p99} ms`,
  );
  print(
    `server RSS: ${f.serverRssMB.before} MB idle, ${f.serverRssMB.withClients} MB with clients`,
  );
  print(
    `server memory per connection: ${f.perConnectionKB.rss} KB RSS, ${f.perConnectionKB.heapUsed} KB heap`,
  );
}

/**
 * The `subscriptions` scenario: the service in a child process (bench/service.server.ts) so
 * that its memory is measured apart from the clients; one request of photos served on loopback
 * and held back until every client is subscribed; `options.clients` graphql-ws clients on it;
 * then the photos let through.
 *
 * Delay is from an event's publication (`at`, stamped by the processor) to its arrival at a
 * client, both read from this machine's clock; it includes the coalescing hold (up to 200 ms),
 * which is the baseline the delay is read against.
 */
export async function benchSubscriptions(options: BenchOptions, print: (line: string) => void) {
  const photos = await startGatedPhotoServer();
  const service = await startChild();
  const clients: WsClient[] = [];

  try {
    const figures = await measure(
      service,
      photos,
      { clients: options.clients, images: options.subscriptionImages },
      clients,
    );
    report(figures, print);
    return figures;
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    await stopChild(service.child);
    photos.close();
  }
}
