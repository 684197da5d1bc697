import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type * as GlueModule from '@prisma/schema-engine-wasm/schema_engine_bg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';

/**
 * Prisma's schema engine compiled to WebAssembly: the same engine `prisma migrate` uses, loaded
 * without the native binary the CLI would download.
 *
 * The package's main entry imports its `.wasm` as an ES module, which Node 20 cannot load, so
 * the bindings module is instantiated by hand, once per process (the bindings keep module state).
 */
type Glue = typeof GlueModule;
export type SchemaEngine = Glue['SchemaEngine']['prototype'];

/** The part of the WebAssembly API used here (absent from Node 20's bundled types). */
interface Wasm {
  instantiate(
    bytes: Uint8Array,
    imports: Record<string, Record<string, unknown>>,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

let gluePromise: Promise<Glue> | undefined;

async function instantiate(): Promise<Glue> {
  const glue = await import('@prisma/schema-engine-wasm/schema_engine_bg');
  const require = createRequire(import.meta.url);
  const wasmPath = path.join(
    path.dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')),
    'schema_engine_bg.wasm',
  );

  // The engine arms a 10 s advisory-lock timer it never clears; unref it so a process that has
  // finished migrating can exit at once. The timer still fires while the process lives.
  const imports: Record<string, unknown> = { ...glue };
  for (const name of Object.keys(glue)) {
    if (name.startsWith('__wbg_setTimeout_')) {
      imports[name] = (callback: () => void, ms: number) => {
        const timer = setTimeout(callback, ms >>> 0);
        timer.unref();
        return timer;
      };
    }
  }

  const bytes = await readFile(wasmPath);
  const { instance } = await wasm.instantiate(bytes, { './schema_engine_bg.js': imports });
  const exports = instance.exports as Record<string, unknown> & { __wbindgen_start: () => void };
  glue.__wbg_set_wasm(exports);
  exports.__wbindgen_start();
  return glue;
}

/**
 * Opens a schema engine on a database reached through a driver adapter factory.
 * Call `free()` on the result when done.
 */
export async function openSchemaEngine(
  factory: SqlMigrationAwareDriverAdapterFactory,
  schemaText?: string,
): Promise<SchemaEngine> {
  gluePromise ??= instantiate();
  const glue = await gluePromise;
  const datamodels: [string, string][] | undefined =
    schemaText === undefined ? undefined : [['schema.prisma', schemaText]];
  return glue.SchemaEngine.new(
    { datamodels },
    () => undefined,
    bindMigrationAwareSqlAdapterFactory(factory),
  );
}
