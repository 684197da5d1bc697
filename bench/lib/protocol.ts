/**
 * How the runner and a scenario's child process talk: the runner passes one JSON argument, the
 * child prints one result line on stdout marked with {@link RESULT_MARK}. Anything else the child
 * writes (stderr, unmarked lines) is passed through for the reader.
 */

/** Starts the one stdout line that carries a child's result as JSON. */
export const RESULT_MARK = '@@bench-result ';

/** The JSON argument a child was started with; throws when it is missing or not an object. */
export function childArgs(): Record<string, unknown> {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('Pass the scenario arguments as one JSON argument');

  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`Scenario arguments must be a JSON object, got: ${raw}`);
  }
  return parsed as Record<string, unknown>;
}

/** A whole number argument, or `fallback` when absent; throws when present but not one. */
export function intArg(args: Record<string, unknown>, name: string, fallback?: number): number {
  const value = args[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`Argument ${name} must be a whole number, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A string argument; throws when absent. */
export function stringArg(args: Record<string, unknown>, name: string): string {
  const value = args[name];
  if (typeof value !== 'string') throw new Error(`Argument ${name} must be a string`);
  return value;
}

/** Prints a child's result for the runner. Call once, last. */
export function emitResult(result: object): void {
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`);
}
