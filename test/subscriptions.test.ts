import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { signToken } from '../src/auth/jwt.ts';
import type { RequestRecord } from '../src/domain/request.ts';
import { isTerminal, progressOf } from '../src/domain/request.ts';
import { MemoryEventBus } from '../src/events/event-bus.memory.ts';
import type { ProgressUpdate } from '../src/services/progress.service.ts';
import { ProgressService } from '../src/services/progress.service.ts';
import type { RequestService } from '../src/services/request.service.ts';
import { RequestByIdDocument, WebhooksDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { IMAGES_DIR, startImageServer } from './helpers/image-server.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import type { ReceivedEvent, WsClient } from './helpers/ws.ts';
import {
  connectClient,
  deferred,
  openRawSocket,
  subscribeOnce,
  SubscriptionFailed,
  waitUntil,
  within,
} from './helpers/ws.ts';
import { resolveProcessingOptions } from '../src/services/processing-options.ts';

const PNG = await readFile(path.join(IMAGES_DIR, '1x1.png'));

let service: TestService;
let images: ImageServer;
const clients: WsClient[] = [];

beforeAll(async () => {
  [service, images] = await Promise.all([
    startTestService({ FETCH_TIMEOUT_MS: '120000' }),
    startImageServer(),
  ]);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});
afterAll(async () => {
  await service.stop();
  await images.close();
});

/** A graphql-ws client disposed after the test. */
function client(authorization: string | null, target = service): WsClient {
  const ws = connectClient(target.url, authorization);
  clients.push(ws);
  return ws;
}

/** A CSV of products with three of `urls` each. */
function csvOf(urls: readonly string[]): string {
  const rows: string[] = [];
  for (let i = 0; i < urls.length; i += 3) {
    const n = rows.length + 1;
    rows.push(`${n},Product ${n},"${urls.slice(i, i + 3).join(', ')}"`);
  }
  return ['S. No.,Product Name,Input Image Urls', ...rows].join('\n');
}

async function upload(urls: readonly string[], target = service): Promise<string> {
  const res = await target.upload(csvOf(urls));
  const body = (await res.json()) as UploadBody;
  expect(body.errors).toBeUndefined();
  return body.data?.uploadCsv.request.id ?? '';
}

/** Distinct URLs of the 1x1 PNG, answered at once. */
function tinyImages(count: number, tag: string): string[] {
  return Array.from({ length: count }, (_, i) => `${images.url}/1x1.png?${tag}=${i}`);
}

/**
 * Answers `pathname` with the 1x1 PNG only once `open()` is called, so whatever fetches it
 * stays busy. `arrived` resolves when `expected` fetches are waiting.
 */
function holdImages(pathname: string, expected = 1) {
  const gate = deferred();
  const arrived = deferred();
  let hits = 0;
  images.route(pathname, (_req, res) => {
    hits += 1;
    if (hits === expected) arrived.resolve();
    void gate.promise.then(() =>
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG.length }).end(PNG),
    );
  });
  return { urls: [`${images.url}${pathname}`], arrived: arrived.promise, open: gate.resolve };
}

const done = (e: ReceivedEvent) => e.data.progress.completed + e.data.progress.failed;

/** Pairs of consecutive events where a counter went down. */
function backwardSteps(events: readonly ReceivedEvent[]) {
  return events
    .slice(1)
    .map((e, i) => [events[i] as ReceivedEvent, e] as const)
    .filter(
      ([a, b]) =>
        b.data.progress.completed < a.data.progress.completed ||
        b.data.progress.failed < a.data.progress.failed,
    );
}
const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (error: unknown) => error,
  );
const tcpSockets = () =>
  process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

describe('connecting with credentials that are not a valid token', () => {
  const otherSecret = 'another-secret-that-is-long-enough-for-hs256-012345';

  it.each<[string, () => string | null]>([
    ['no token', () => null],
    ['a token signed with another secret', () => `Bearer ${signToken(otherSecret, 'alice')}`],
    [
      'a token that expired a minute ago',
      () => `Bearer ${signToken(service.service.jwtSecret ?? '', 'alice', { expiresInSec: -60 })}`,
    ],
    ['a malformed token', () => 'Bearer not-a-jwt'],
    ['Basic credentials', () => 'Basic x'],
  ])('closes the socket with 4403 before any subscription runs, given %s', async (_, auth) => {
    const ws = client(auth());

    const failure = await failureOf(ws.subscribe(randomUUID()).done);

    expect(failure).toMatchObject({ closeCode: 4403, events: [] });
    expect((await ws.closed).code).toBe(4403);
  });
});

describe('a request whose image is still downloading', () => {
  const held = { requestId: '', open: (): void => undefined };

  beforeAll(async () => {
    const route = holdImages('/running.png');
    held.open = route.open;
    held.requestId = await upload(route.urls);
    await route.arrived;
  });
  afterAll(async () => {
    held.open();
    await service.waitForEnd(held.requestId);
  });

  it('closes an open socket with 4403 within a second of its token passing exp plus the 30 s tolerance', async () => {
    // Expired 28 s ago: still accepted for 2 s under the default tolerance of 30 s.
    const token = signToken(service.service.jwtSecret ?? '', 'alice', { expiresInSec: -28 });
    const expiresAt = ((jwt.decode(token) as { exp: number }).exp + 30) * 1000;
    const ws = client(`Bearer ${token}`);

    await within(ws.subscribe(held.requestId).firstEvent, 1000, 'the first event');
    const closed = await within(ws.closed, 4000, 'the close at expiry');

    expect(closed.code).toBe(4403);
    expect(closed.at - expiresAt).toBeGreaterThanOrEqual(-50);
    expect(closed.at - expiresAt).toBeLessThanOrEqual(1000);
  });

  it("answers a subscription to another owner's request with NOT_FOUND and no event", async () => {
    const subscription = client(`Bearer ${service.token('mallory')}`).subscribe(held.requestId);

    const failure = await failureOf(subscription.done);

    expect(failure).toBeInstanceOf(SubscriptionFailed);
    expect(failure).toMatchObject({ errors: [{ extensions: { code: 'NOT_FOUND' } }], events: [] });
  });

  it('answers a subscription to an id that is not a UUID with NOT_FOUND', async () => {
    const subscription = client(`Bearer ${service.token()}`).subscribe('not-a-uuid');

    const failure = await failureOf(subscription.done);

    expect(failure).toMatchObject({ errors: [{ extensions: { code: 'NOT_FOUND' } }], events: [] });
  });

  it("lets an admin token subscribe to anyone's request", async () => {
    const ws = client(`Bearer ${service.token('root', true)}`);

    const first = await within(ws.subscribe(held.requestId).firstEvent, 1000, 'the first event');

    expect(first.data.requestId).toBe(held.requestId);
    expect(first.data.progress.total).toBe(1);
  });

  it('accepts one JWT over HTTP and WebSocket alike, and denies a non-owner on both', async () => {
    const [owner, other] = [service.token('alice'), service.token('mallory')];

    const http = await Promise.all([
      service.graphql(RequestByIdDocument, { id: held.requestId }, owner),
      service.graphql(RequestByIdDocument, { id: held.requestId }, other),
    ]);
    const ws = await Promise.all([
      within(client(`Bearer ${owner}`).subscribe(held.requestId).firstEvent, 1000, 'owner event'),
      failureOf(client(`Bearer ${other}`).subscribe(held.requestId).done),
    ]);

    expect([http[0].data?.request?.id, ws[0].data.requestId]).toEqual([
      held.requestId,
      held.requestId,
    ]);
    expect([http[1].data?.request, ws[1]]).toMatchObject([
      null,
      { errors: [{ extensions: { code: 'NOT_FOUND' } }], events: [] },
    ]);
    expect(service.logs()).not.toContain('TypeError');
  });

  it('releases every listener and socket after 1,000 subscribe-and-drop cycles', async () => {
    const { events, db, config } = service.service.app;
    // The database pool opens connections as reads overlap, up to DATABASE_POOL_SIZE, and keeps
    // them a while: grown to its bound first, it adds no socket the cycles could be blamed for.
    const poolSize = config.database.poolSize;
    await Promise.all(
      Array.from({ length: 2 * poolSize }, () => db.sql('SELECT pg_sleep(0.05)', [])),
    );
    const baseline = { listeners: events.listenerCount(), sockets: tcpSockets() };
    const token = service.token();
    // Half close while the server still checks ownership, half once the first event came.
    const dropAtOnce = async () => {
      const raw = await openRawSocket(service.url, token);
      raw.subscribe('1', held.requestId);
      raw.socket.close(1000);
      await raw.closed;
    };
    const dropAfterFirstEvent = async () => {
      const ws = connectClient(service.url, `Bearer ${token}`);
      await ws.subscribe(held.requestId).firstEvent;
      await ws.dispose();
      await ws.closed;
    };

    for (let batch = 0; batch < 40; batch++) {
      await Promise.all(
        Array.from({ length: 25 }, (_, i) => (i % 2 === 0 ? dropAtOnce() : dropAfterFirstEvent())),
      );
    }
    await waitUntil(() => events.listenerCount() <= baseline.listeners, 1000);
    await waitUntil(() => tcpSockets() <= baseline.sockets, 2000);

    expect(events.listenerCount()).toBeLessThanOrEqual(baseline.listeners);
    expect(tcpSockets()).toBeLessThanOrEqual(baseline.sockets);
  });
});

describe('a request still waiting for a worker, watched until it ends', () => {
  let requestId: string;
  let subscribedAt: number;
  let events: ReceivedEvent[];
  let first: ReceivedEvent;

  beforeAll(async () => {
    const blocker = holdImages('/blocker.png', 2);
    await upload([`${blocker.urls[0]}?n=1`, `${blocker.urls[0]}?n=2`]);
    await blocker.arrived;
    requestId = await upload(tinyImages(3, 'waiting'));
    const subscription = client(`Bearer ${service.token()}`).subscribe(requestId);
    subscribedAt = Date.now();

    first = await within(subscription.firstEvent, 1000, 'the first event');
    blocker.open();
    events = await within(subscription.done, 20_000, 'the end of the stream');
  });

  it('sends the current state at once, with no image, while the request is still PENDING', () => {
    expect(first.receivedAt - subscribedAt).toBeLessThan(1000);
    expect(first.data).toMatchObject({ status: 'PENDING', image: null });
    expect(first.data.progress).toMatchObject({ total: 3, completed: 0, pending: 3 });
  });

  it('ends with the final status, every image counted, and then completes', () => {
    const last = events.at(-1)?.data;

    expect(events.filter((e) => isTerminal(e.data.status))).toHaveLength(1);
    expect(last?.status).toBe('COMPLETED');
    expect(last?.progress).toMatchObject({ total: 3, completed: 3, failed: 0, pending: 0 });
  });

  it('never moves a counter backwards from one event to the next', () => {
    const backwards = backwardSteps(events);

    expect(backwards).toEqual([]);
  });
});

describe('a request of 60 tiny images, watched from its upload', () => {
  let urls: string[];
  let events: ReceivedEvent[];

  beforeAll(async () => {
    urls = tinyImages(60, 'n');
    const requestId = await upload(urls);

    events = await within(subscribeOnce(service.url, service.token(), requestId), 30_000, 'end');
  });

  it('sends at most about five events a second', () => {
    const seconds = ((events.at(-1)?.receivedAt ?? 0) - (events[0]?.receivedAt ?? 0)) / 1000;

    expect(events.length).toBeLessThanOrEqual(6 * seconds + 2);
    expect(events.length).toBeGreaterThanOrEqual(2);
  });

  it('still sends the terminal event, with completed and failed adding up to the total', () => {
    const last = events.at(-1)?.data;

    expect(last?.status).toBe('COMPLETED');
    expect(last?.progress).toMatchObject({ total: 60, completed: 60, failed: 0, percent: 100 });
  });

  it('never moves a counter backwards, though images finish on two workers', () => {
    const backwards = backwardSteps(events);

    expect(backwards).toEqual([]);
  });

  it('carries, in each event an image caused, the image that changed', () => {
    const caused = events.slice(1, -1);
    const statuses = new Set(caused.map((e) => e.data.image?.status));

    expect(caused.length).toBeGreaterThan(0);
    expect(caused.filter((e) => !urls.includes(e.data.image?.inputUrl ?? ''))).toEqual([]);
    expect([...statuses].filter((s) => s !== 'PROCESSING' && s !== 'COMPLETED')).toEqual([]);
  });
});

describe('requests that end', () => {
  it('sends one event, the final state, to a subscriber that comes after the end', async () => {
    const requestId = await upload(tinyImages(2, 'ended'));
    await service.waitForEnd(requestId);

    const events = await subscribeOnce(service.url, service.token(), requestId);

    expect(events).toHaveLength(1);
    expect(events[0]?.data).toMatchObject({ status: 'COMPLETED', image: null });
    expect(events[0]?.data.progress).toMatchObject({ total: 2, completed: 2, pending: 0 });
  });

  it('sends the terminal event to every one of several subscribers', async () => {
    const requestId = await upload(tinyImages(20, 'several'));

    const streams = await Promise.all(
      Array.from({ length: 5 }, () => subscribeOnce(service.url, service.token(), requestId)),
    );

    expect(streams.map((s) => s.at(-1)?.data.status)).toEqual(Array(5).fill('COMPLETED'));
    expect(streams.map((s) => done(s.at(-1) as ReceivedEvent))).toEqual(Array(5).fill(20));
  });

  it('sends both terminal events to one client subscribed to two requests', async () => {
    const ids = [await upload(tinyImages(6, 'first')), await upload(tinyImages(6, 'second'))];
    const ws = client(`Bearer ${service.token()}`);

    const streams = await Promise.all(ids.map((id) => ws.subscribe(id).done));

    expect(streams.map((s) => s.at(-1)?.data.requestId)).toEqual(ids);
    expect(streams.map((s) => s.at(-1)?.data.status)).toEqual(['COMPLETED', 'COMPLETED']);
  });
});

describe('operations other than subscriptions', () => {
  it('refuses a query and a mutation over the socket, pointing to HTTP', async () => {
    const raw = await openRawSocket(service.url, service.token());
    const documents = {
      q: '{ requests(first: 1) { totalCount } }',
      m: 'mutation { registerWebhook(url: "https://example.test/hook") { id } }',
    };

    for (const [id, query] of Object.entries(documents)) {
      raw.socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
    }
    const answers = await Promise.all(
      Object.keys(documents).map((id) => raw.next((message) => message.id === id)),
    );

    expect(answers.map(({ type }) => type)).toEqual(['error', 'error']);
    expect(JSON.stringify(answers[0]?.payload)).toContain('send queries over HTTP');
    expect(JSON.stringify(answers[1]?.payload)).toContain('send mutations over HTTP');
    const webhooks = await service.graphql(WebhooksDocument, {}, service.token());
    expect(webhooks.data?.webhooks).toEqual([]);
    raw.socket.close();
  });
});

describe('WebSocket message size', () => {
  it('closes the socket with 1009 when a message is larger than WS_MAX_PAYLOAD_BYTES', async () => {
    const limit = service.service.app.config.websocket.maxPayloadBytes;
    const raw = await openRawSocket(service.url, service.token());

    raw.socket.send('x'.repeat(limit + 1));
    const closed = await within(raw.closed, 2000, 'the close');

    expect(limit).toBe(64 * 1024);
    expect(closed.code).toBe(1009);
  });
});

describe('keep-alive pings every 100 ms', () => {
  let fast: TestService;
  let requestId: string;
  const route = { open: (): void => undefined };

  beforeAll(async () => {
    fast = await startTestService({ WS_KEEPALIVE_MS: '100', FETCH_TIMEOUT_MS: '120000' });
    const held = holdImages('/keepalive.png');
    route.open = held.open;
    requestId = await upload(held.urls, fast);
  });
  afterAll(async () => {
    route.open();
    await fast.waitForEnd(requestId);
    await fast.stop();
  });

  it('terminates a client that never answers pings within a second, releasing its subscription', async () => {
    const { events } = fast.service.app;
    const raw = await openRawSocket(fast.url, fast.token(), { autoPong: false });
    const openedAt = Date.now();
    raw.subscribe('1', requestId);
    await raw.next((m) => m.type === 'next');
    const listenersWhileOpen = events.listenerCount();

    const closed = await within(raw.closed, 2000, 'the termination');
    await waitUntil(() => events.listenerCount() < listenersWhileOpen, 1000);

    expect(closed.code).toBe(1006);
    expect(closed.at - openedAt).toBeLessThanOrEqual(1000);
    expect(events.listenerCount()).toBe(listenersWhileOpen - 1);
  });

  it('keeps a normal client connected while it idles for 500 ms', async () => {
    const ws = client(`Bearer ${fast.token()}`, fast);
    await within(ws.subscribe(requestId).firstEvent, 1000, 'the first event');
    const socket = await ws.socket;
    const idleFrom = Date.now();
    const idled = deferred<number>();

    let pings = 0;
    socket.on('ping', () => {
      pings += 1;
      if (Date.now() - idleFrom >= 500) idled.resolve(pings);
    });
    await within(idled.promise, 2000, '500 ms of pings');

    expect(pings).toBeGreaterThanOrEqual(4);
    expect(ws.closes).toEqual([]);
    expect(socket.readyState).toBe(WebSocket.OPEN);
  });
});

describe('ProgressService, without a transport', () => {
  it('delivers a final state published while the first snapshot is still being read', async () => {
    const bus = new MemoryEventBus();
    const record = pendingRecord();
    const reading = deferred();
    const readDone = deferred();
    let reads = 0;
    // The first read is the ownership check; the second, the snapshot, is held open.
    const requests = {
      require: async () => {
        reads += 1;
        if (reads === 2) {
          reading.resolve();
          await readDone.promise;
        }
        return record;
      },
    } as unknown as RequestService;
    const stream = await new ProgressService(requests, bus).watch(viewer, record.id);
    const firstValue = stream.next();
    await reading.promise;

    await bus.publish({
      requestId: record.id,
      status: 'COMPLETED',
      progress: progressOf({ total: 1, completed: 1, failed: 0 }),
      image: null,
      at: Date.now(),
    });
    readDone.resolve();
    const first: IteratorResult<ProgressUpdate, unknown> = await firstValue;
    const second: IteratorResult<ProgressUpdate, unknown> = await within(
      stream.next(),
      1000,
      'the final state after the snapshot',
    ).finally(() => void stream.return?.());

    expect(first.done ? null : first.value.status).toBe('PROCESSING');
    expect(second.done ? null : second.value.status).toBe('COMPLETED');
  });
});

const viewer = { subject: 'alice', isAdmin: false };

function pendingRecord(): RequestRecord {
  return {
    id: randomUUID(),
    ownerId: viewer.subject,
    status: 'PROCESSING',
    fileName: null,
    webhookUrl: null,
    options: resolveProcessingOptions(null, 50),
    totalImages: 1,
    completedImages: 0,
    failedImages: 0,
    outputCsvKey: null,
    createdAt: new Date(),
    updatedAt: new Date(),
    completedAt: null,
  };
}
