/**
 * Child process of the `startup` diagnostic: the memory the embedded service holds before it
 * has any work, stage by stage, to explain the peak RSS of the other scenarios. Run with
 * `--expose-gc` (the runner does) so each stage is read after a full collection.
 *
 * `{ "phase": "fresh", "dataDir": d }` opens a new database in `d/db` (PGlite runs initdb) and
 * then a whole API on another fresh directory; `{ "phase": "reopen", "dataDir": d }` opens the
 * database the fresh phase left, as a restarted service does.
 */
import path from 'node:path';

import { PGlite, PGliteAdapterFactory } from '../src/db/adapters.ts';
import { applyMigrations } from '../src/db/migrator.ts';
import { PrismaClient } from '../src/generated/prisma/client.ts';
import { peakRssMB, round } from './lib/measure.ts';
import { childArgs, emitResult, stringArg } from './lib/protocol.ts';
import { startApiOnly } from './lib/service-harness.ts';

const MB = 1024 * 1024;

/** Memory after one stage, in MB, read after a full garbage collection. */
export interface StageMemory {
  stage: string;
  rssMB: number;
  peakRssMB: number;
  heapUsedMB: number;
  externalMB: number;
  arrayBuffersMB: number;
}

const stages: StageMemory[] = [];

function mark(stage: string): void {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  stages.push({
    stage,
    rssMB: round(usage.rss / MB),
    peakRssMB: peakRssMB(),
    heapUsedMB: round(usage.heapUsed / MB),
    externalMB: round(usage.external / MB),
    arrayBuffersMB: round(usage.arrayBuffers / MB),
  });
}

/** The steps `openDatabase` takes for PGlite, each followed by a reading. */
async function databaseStages(dataDir: string, label: string): Promise<void> {
  const pglite = await PGlite.create({ dataDir });
  mark(`PGlite.create (${label})`);
  const factory = new PGliteAdapterFactory(pglite);
  await applyMigrations(factory);
  mark('applyMigrations (schema engine wasm)');
  const prisma = new PrismaClient({ adapter: factory });
  await prisma.request.count();
  mark('PrismaClient + first query');
  await prisma.$disconnect();
  await pglite.close();
  mark('database closed');
}

const args = childArgs();
const phase = stringArg(args, 'phase');
const dbDir = path.join(stringArg(args, 'dataDir'), 'db');

mark('modules loaded');
if (phase === 'fresh') {
  await databaseStages(dbDir, 'new data directory: initdb');
  const api = await startApiOnly({});
  mark('then a whole API (createApp + HTTP + schema) on a fresh directory');
  await api.stop();
} else {
  await databaseStages(dbDir, 'existing data directory');
}

const gcExposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
emitResult({ phase, stages, gcExposed });
process.exit(0);
