/**
 * The CPU that PostgreSQL and Redis spend on a run, read from /proc for the servers found
 * listening on the ports of DATABASE_URL and REDIS_URL. Both servers may be shared with other
 * work on the machine: PostgreSQL's backends of the run's own database are told apart from
 * everyone else's; its helper processes (WAL writer, checkpointer, autovacuum) and Redis are
 * one process each for every client, so their figures hold whatever else used them.
 */
import type pg from 'pg';

import { childrenOf, cpuBetween, cpuOf, pidListeningOn } from './proc-cpu.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The PostgreSQL and Redis server processes on this machine; undefined when not found. */
export interface BackingServers {
  postgres: number | undefined;
  redis: number | undefined;
}

/** CPU time of each process of the three groups at one moment, by PID. */
export interface BackingReading {
  /** Backends serving the run's own database (the bench's own connection left out). */
  runBackends: Map<number, number>;
  /** The PostgreSQL server process and its helpers: shared by every database. */
  postgresShared: Map<number, number>;
  redis: Map<number, number>;
}

/** CPU ms of each group between two readings. */
export interface BackingCpu {
  postgres: number | null;
  postgresShared: number | null;
  redis: number | null;
}

async function localServer(url: string, defaultPort: number): Promise<number | undefined> {
  const parsed = new URL(url);
  if (!LOOPBACK.has(parsed.hostname)) return undefined;
  return pidListeningOn(Number(parsed.port || defaultPort));
}

/** Finds the servers that `databaseUrl` and `redisUrl` reach, when they run on this machine. */
export async function findBackingServers(
  databaseUrl: string,
  redisUrl: string,
): Promise<BackingServers> {
  return {
    postgres: await localServer(databaseUrl, 5432),
    redis: await localServer(redisUrl, 6379),
  };
}

interface Activity {
  pid: number;
  client: boolean;
  mine: boolean;
}

async function postgresGroups(server: number, client: pg.Client) {
  const { rows } = await client.query<Activity>(
    `SELECT pid, backend_type = 'client backend' AS client, datname = current_database() AS mine
       FROM pg_stat_activity WHERE pid <> pg_backend_pid()`,
  );
  const clients = new Set(rows.filter((r) => r.client).map((r) => r.pid));
  const mine = rows.filter((r) => r.client && r.mine).map((r) => r.pid);
  const helpers = (await childrenOf(server)).filter((pid) => !clients.has(pid));
  return { mine, shared: [server, ...helpers] };
}

/**
 * Reads the CPU time of the run's PostgreSQL backends, PostgreSQL's shared processes and Redis.
 *
 * @param client - connected to the run's database
 */
export async function readBacking(
  servers: BackingServers,
  client: pg.Client,
): Promise<BackingReading> {
  const groups = servers.postgres
    ? await postgresGroups(servers.postgres, client)
    : { mine: [], shared: [] };
  return {
    runBackends: await cpuOf(groups.mine),
    postgresShared: await cpuOf(groups.shared),
    redis: await cpuOf(servers.redis ? [servers.redis] : []),
  };
}

/** What each group spent between `before` and `after`; null for a server not found. */
export function backingBetween(
  servers: BackingServers,
  before: BackingReading,
  after: BackingReading,
): BackingCpu {
  const pgFound = servers.postgres !== undefined;
  return {
    postgres: pgFound ? cpuBetween(before.runBackends, after.runBackends) : null,
    postgresShared: pgFound ? cpuBetween(before.postgresShared, after.postgresShared) : null,
    redis: servers.redis ? cpuBetween(before.redis, after.redis) : null,
  };
}
