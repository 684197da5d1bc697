import type { PGlite } from '@electric-sql/pglite';
import { parse, protocol } from '@electric-sql/pglite';

/** SQLSTATE 26000: the statement named does not exist (any more). */
const INVALID_STATEMENT_NAME = '26000';

let instances = 0;

/** A parameter as PostgreSQL's text format reads it; each statement casts its parameters. */
function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  // An array literal, `{"a","b",NULL}`: every element quoted, so commas, braces and spaces in
  // it are data; backslashes and quotes escaped.
  if (Array.isArray(value)) return `{${value.map(toArrayElement).join(',')}}`;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

function toArrayElement(value: unknown): string {
  const text = toText(value);
  return text === null ? 'NULL' : `"${text.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * Runs statements on PGlite as prepared statements: each text is parsed and planned once, then
 * run by name with one message to the database. `PGlite.query` parses, describes and plans the
 * text on every call, in five exchanges; for the statements run for every image that was half
 * of what the embedded database spent on them, on the thread that serves everything else.
 */
export class PGlitePreparedStatements {
  readonly #pglite: PGlite;
  /** Sets the names of this instance apart from those of another on the same database. */
  readonly #instance = ++instances;
  readonly #names = new Map<string, string>();
  readonly #prepared = new Set<string>();

  constructor(pglite: PGlite) {
    this.#pglite = pglite;
  }

  /**
   * Runs `text` with `params` (`$1`, `$2`, …, each cast in the text) and resolves with its rows,
   * read as `PGlite.query` reads them.
   *
   * @throws the database's error, as `PGlite.query` throws it
   */
  async run<T>(text: string, params: readonly unknown[]): Promise<T[]> {
    const name = this.#nameOf(text);
    try {
      return await this.#execute<T>(name, text, params);
    } catch (error: unknown) {
      // Someone ran DEALLOCATE or DISCARD on the session: prepare the statement again.
      if ((error as { code?: string }).code !== INVALID_STATEMENT_NAME) throw error;
      this.#prepared.delete(name);
      return this.#execute<T>(name, text, params);
    }
  }

  async #execute<T>(name: string, text: string, params: readonly unknown[]): Promise<T[]> {
    const pglite = this.#pglite;
    // Closing a statement that does not exist is no error; one that does exists after a failed
    // first run (parsed, then refused its parameters), and is parsed again here.
    const prepare = [
      protocol.serialize.close({ type: 'S', name }),
      protocol.serialize.parse({ name, text, types: [] }),
    ];
    const messages = [
      ...(this.#prepared.has(name) ? [] : prepare),
      protocol.serialize.bind({ statement: name, values: params.map(toText) }),
      protocol.serialize.describe({ type: 'P' }),
      protocol.serialize.execute({}),
      protocol.serialize.sync(),
    ];
    // The same locks `PGlite.query` takes: no open transaction (which this statement would join)
    // and no other statement between these messages.
    const result = await pglite._runExclusiveTransaction(() =>
      pglite._runExclusiveQuery(() => pglite.execProtocol(Buffer.concat(messages))),
    );
    this.#prepared.add(name);
    const [first] = parse.parseResults(result.messages, pglite.parsers);
    return (first?.rows ?? []) as T[];
  }

  /** The same text always gets the same name. */
  #nameOf(text: string): string {
    let name = this.#names.get(text);
    if (name === undefined) {
      name = `image_pipeline_${this.#instance}_${this.#names.size + 1}`;
      this.#names.set(text, name);
    }
    return name;
  }
}
