/**
 * The floor of the `reads` scenario: Apollo Server 5 on Express 5, the stack the service is
 * built on, with nothing of the service in it. One schema with the progress query's shape, whose
 * resolver answers a constant: no token check, no rules, no limits, no database, no logs. What it
 * sustains is the most any GraphQL read through this stack can reach on this machine, so a target
 * it cannot meet is out of the service's reach too.
 *
 * Same conventions as bench/service.server.ts: prints `{ "url", "controlUrl", "token" }` once
 * it listens, serves `/stats` on the control port, and stops when its standard input closes.
 * Run with `node --expose-gc --import tsx bench/stack-floor.server.ts`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { buildSchema } from 'graphql';

import { serverStats } from './lib/measure.ts';

/** The fields the progress query asks for, as the service's schema types them. */
const SCHEMA = buildSchema(`
  enum RequestStatus { PENDING PROCESSING COMPLETED COMPLETED_WITH_ERRORS FAILED CANCELLED }
  type Progress { total: Int! completed: Int! failed: Int! pending: Int! percent: Float! }
  type Request { id: ID! status: RequestStatus! progress: Progress! }
  type Query { request(id: ID!): Request }
`);

const ROOT_VALUE = {
  request: ({ id }: { id: string }) => ({
    id,
    status: 'PROCESSING',
    progress: { total: 10_000, completed: 0, failed: 0, pending: 10_000, percent: 0 },
  }),
};

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function main(): Promise<void> {
  const apollo = new ApolloServer({ schema: SCHEMA, rootValue: ROOT_VALUE, csrfPrevention: true });
  await apollo.start();
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use('/graphql', express.json({ limit: '1mb' }), expressMiddleware(apollo));
  const server = http.createServer(app);
  const url = await listen(server);

  const control = http.createServer((req, res) => {
    if (req.url !== '/stats') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(serverStats(0)));
  });
  const controlUrl = await listen(control);

  process.stdin.resume();
  process.stdin.once('end', () => {
    control.close();
    server.closeAllConnections();
    void apollo.stop().then(() => process.exit(0));
  });
  process.stdout.write(`${JSON.stringify({ url, controlUrl, token: '' })}\n`);
}

await main();
