import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type {
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';

/**
 * Driver adapter factories for Prisma, with the two script-execution faults of the published
 * adapters mended, so a failing migration is reported and rolled back instead of half applied.
 */

interface PGliteAdapterInternals {
  client: PGlite;
  onError(error: unknown): never;
}

/** pglite-prisma-adapter 0.7 does not await `exec` in `executeScript`, losing SQL errors. */
function awaitScripts(adapter: SqlDriverAdapter): SqlDriverAdapter {
  const internals = adapter as unknown as PGliteAdapterInternals;
  adapter.executeScript = async (script: string) => {
    try {
      await internals.client.exec(script);
    } catch (error) {
      internals.onError(error);
    }
  };
  return adapter;
}

/** A PGlite adapter factory whose migration scripts run atomically and report their errors. */
export class PGliteAdapterFactory extends PrismaPGlite {
  override async connect(): Promise<SqlDriverAdapter> {
    return awaitScripts(await super.connect());
  }

  override async connectToShadowDb(): Promise<SqlDriverAdapter> {
    const adapter = awaitScripts(await super.connectToShadowDb());
    const shadow = (adapter as unknown as PGliteAdapterInternals).client;
    adapter.dispose = () => shadow.close();
    return adapter;
  }
}

/**
 * A PostgreSQL adapter factory on a pool the caller owns (and ends).
 *
 * adapter-pg 7.10 splits scripts on `;` and runs the pieces one by one, which breaks on a `;` in
 * a string and leaves a failed migration half applied. One simple-protocol query instead runs
 * the whole script as one implicit transaction.
 */
export function pgAdapterFactory(pool: pg.Pool): SqlMigrationAwareDriverAdapterFactory {
  const factory = new PrismaPg(pool);
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter = await connect();
    adapter.executeScript = async (script: string) => {
      await adapter.underlyingDriver().query(script);
    };
    return adapter;
  };
  return factory;
}

export { PGlite, pg };
