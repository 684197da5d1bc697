/**
 * `npm run bench [-- <scenario>... --quick --profile --repeat=N]`: runs each scenario's
 * measurements in child processes (see bench/README.md), prints one line per figure and writes
 * `bench/results/<scenario>.json` with every figure and the machine it was measured on.
 * `DATABASE_URL` and `REDIS_URL`, when set, are passed to every service the bench starts.
 */
import type { BenchOptions, ScenarioName } from './lib/cli.ts';
import { parseCli } from './lib/cli.ts';
import { benchConcurrency } from './lib/concurrency-plan.ts';
import { benchIngestion } from './lib/ingestion-plan.ts';
import { benchProcessing } from './lib/processing-plan.ts';
import { benchReads } from './lib/reads-plan.ts';
import { benchScaling } from './lib/scaling-plan.ts';
import { machineInfo, writeResult } from './lib/results.ts';
import { shapeName } from './lib/shape.ts';
import { benchSoak } from './lib/soak-plan.ts';
import { benchStartup } from './lib/startup-plan.ts';
import { benchSubscriptions } from './lib/subscriptions-plan.ts';

type Scenario = (options: BenchOptions, print: (line: string) => void) => Promise<object>;

const SCENARIO_RUNNERS: Record<ScenarioName, Scenario> = {
  processing: benchProcessing,
  ingestion: benchIngestion,
  reads: benchReads,
  subscriptions: benchSubscriptions,
  soak: benchSoak,
  concurrency: benchConcurrency,
  scaling: benchScaling,
  startup: benchStartup,
};

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const options = parseCli(process.argv.slice(2));
  const started = Date.now();
  const shape = shapeName();
  print(
    `bench ${options.scenarios.join(', ')}; shape ${shape}; concurrency ${options.concurrency}; repeat ${options.repeat}`,
  );

  for (const scenario of options.scenarios) {
    const machine = machineInfo();
    const scenarioStarted = Date.now();
    const figures = await SCENARIO_RUNNERS[scenario](options, print);
    const seconds = Math.round((Date.now() - scenarioStarted) / 1000);
    const content = { scenario, shape, machine, options, seconds, ...figures };
    const file = await writeResult(scenario, content);
    print(`${scenario}: ${seconds} s, written to ${file}`);
  }
  print(`bench done in ${Math.round((Date.now() - started) / 1000)} s`);
}

await main();
