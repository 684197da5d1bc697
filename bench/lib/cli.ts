import os from 'node:os';

/** The scenarios `npm run bench` knows, in the order it runs them. */
export const SCENARIOS = ['processing', 'ingestion', 'startup'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What runs when no scenario is named; `startup` is a diagnostic run only on request. */
const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['processing', 'ingestion'];

/** What the command line asked for. */
export interface BenchOptions {
  scenarios: ScenarioName[];
  /** Smaller sizes, for a check that the bench works rather than for figures. */
  quick: boolean;
  /** After the measured runs, one extra profiled child per scenario (not in the figures). */
  profile: boolean;
  /** Images in flight in both processing modes. */
  concurrency: number;
  /** Image counts of the processing scenario. */
  sizes: number[];
  /** Row counts of the ingestion scenario (three URLs a row). */
  rows: number[];
}

export const USAGE = `usage: npm run bench -- [processing] [ingestion] [startup] [--quick] [--profile]
  [--concurrency=C] [--sizes=120,1200] [--rows=10000,100000]`;

function isScenario(value: string): value is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(value);
}

function numbers(flag: string, value: string): number[] {
  const list = value.split(',').map(Number);
  if (list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${flag} takes whole numbers above 0 separated by commas, got "${value}"`);
  }
  return list;
}

/**
 * Reads the bench's command line. `--quick` makes the defaults 60 and 240 images and 2,000 and
 * 10,000 rows; explicit `--sizes` and `--rows` win over it.
 *
 * @throws Error naming the argument for anything it does not know
 */
export function parseCli(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const options: BenchOptions = {
    scenarios: [],
    quick,
    profile: argv.includes('--profile'),
    concurrency: os.availableParallelism(),
    sizes: quick ? [60, 240] : [120, 1200],
    rows: quick ? [2_000, 10_000] : [10_000, 100_000],
  };

  for (const arg of argv) {
    const [flag = '', value = ''] = arg.split('=', 2);
    if (isScenario(arg)) options.scenarios.push(arg);
    else if (flag === '--concurrency') options.concurrency = numbers(flag, value)[0] ?? 1;
    else if (flag === '--sizes') options.sizes = numbers(flag, value);
    else if (flag === '--rows') options.rows = numbers(flag, value);
    else if (arg !== '--quick' && arg !== '--profile') {
      throw new Error(`Unknown argument "${arg}"\n${USAGE}`);
    }
  }

  if (options.scenarios.length === 0) options.scenarios = [...DEFAULT_SCENARIOS];
  return options;
}
