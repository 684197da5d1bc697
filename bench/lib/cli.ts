import os from 'node:os';

/** The scenarios `npm run bench` knows, in the order it runs them. */
export const SCENARIOS = [
  'processing',
  'ingestion',
  'reads',
  'subscriptions',
  'soak',
  'concurrency',
  'scaling',
  'startup',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What runs when no scenario is named; `startup` is a diagnostic run only on request. */
const DEFAULT_SCENARIOS: readonly ScenarioName[] = SCENARIOS.filter((s) => s !== 'startup');

/** What the command line asked for. */
export interface BenchOptions {
  scenarios: ScenarioName[];
  /** Smaller sizes, for a check that the bench works rather than for figures. */
  quick: boolean;
  /** After the measured runs, one extra profiled child per scenario (not in the figures). */
  profile: boolean;
  /** Times each measured sequence is repeated; figures are medians over the repeats. */
  repeat: number;
  /** Images in flight in both processing modes. */
  concurrency: number;
  /** Image counts of the processing scenario. */
  sizes: number[];
  /** Row counts of the ingestion scenario (three URLs a row). */
  rows: number[];
  /** Images of the request the `reads` scenario reads. */
  readImages: number;
  /** Concurrent HTTP clients of the `reads` scenario. */
  connections: number;
  /** Seconds each `reads` target is loaded. */
  readSeconds: number;
  /** Requests a second of the paced `reads` pass (below saturation, to see service latency). */
  readRate: number;
  /** graphql-ws subscribers of the `subscriptions` scenario. */
  clients: number;
  /** Images of the request the subscribers watch. */
  subscriptionImages: number;
  /** Images of the `soak` run. */
  soakImages: number;
  /** Concurrencies of the `concurrency` sweep, at `sweepImages` images each. */
  sweep: number[];
  sweepImages: number;
  /** Images of each `scaling` run (one API, one or two workers). */
  scalingImages: number;
}

export const USAGE = `usage: npm run bench -- [${SCENARIOS.join('] [')}] [--quick] [--profile]
  [--repeat=N] [--concurrency=C] [--sizes=120,1200] [--rows=10000,100000]
  [--read-images=10000] [--connections=200] [--read-seconds=10] [--read-rate=50]
  [--clients=1000] [--subscription-images=200] [--soak-images=5000]
  [--sweep=1,2,4,8] [--sweep-images=240] [--scaling-images=400]`;

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

function defaults(quick: boolean): BenchOptions {
  return {
    scenarios: [],
    quick,
    profile: false,
    repeat: 1,
    concurrency: os.availableParallelism(),
    sizes: quick ? [60, 240] : [120, 1200],
    rows: quick ? [2_000, 10_000] : [10_000, 100_000],
    readImages: quick ? 1_000 : 10_000,
    connections: quick ? 50 : 200,
    readSeconds: quick ? 3 : 10,
    readRate: quick ? 20 : 50,
    clients: quick ? 100 : 1_000,
    subscriptionImages: quick ? 30 : 200,
    soakImages: quick ? 400 : 5_000,
    sweep: quick ? [1, 2] : [1, 2, 4, 8],
    sweepImages: quick ? 60 : 240,
    scalingImages: quick ? 100 : 400,
  };
}

/** Flags that take a list or a number, and the option each sets. */
const NUMBER_FLAGS = {
  '--repeat': 'repeat',
  '--concurrency': 'concurrency',
  '--read-images': 'readImages',
  '--connections': 'connections',
  '--read-seconds': 'readSeconds',
  '--read-rate': 'readRate',
  '--clients': 'clients',
  '--subscription-images': 'subscriptionImages',
  '--soak-images': 'soakImages',
  '--sweep-images': 'sweepImages',
  '--scaling-images': 'scalingImages',
} as const;
const LIST_FLAGS = { '--sizes': 'sizes', '--rows': 'rows', '--sweep': 'sweep' } as const;

/**
 * Reads the bench's command line. `--quick` makes every size small (see `defaults`); explicit
 * flags win over it.
 *
 * @throws Error naming the argument for anything it does not know
 */
export function parseCli(argv: readonly string[]): BenchOptions {
  const options = defaults(argv.includes('--quick'));
  options.profile = argv.includes('--profile');

  for (const arg of argv) {
    const [flag = '', value = ''] = arg.split('=', 2);
    if (isScenario(arg)) options.scenarios.push(arg);
    else if (flag in NUMBER_FLAGS) {
      options[NUMBER_FLAGS[flag as keyof typeof NUMBER_FLAGS]] = numbers(flag, value)[0] ?? 1;
    } else if (flag in LIST_FLAGS) {
      options[LIST_FLAGS[flag as keyof typeof LIST_FLAGS]] = numbers(flag, value);
    } else if (arg !== '--quick' && arg !== '--profile') {
      throw new Error(`Unknown argument "${arg}"\n${USAGE}`);
    }
  }

  if (options.scenarios.length === 0) options.scenarios = [...DEFAULT_SCENARIOS];
  return options;
}
