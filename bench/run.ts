/**
 * `npm run bench [-- <scenario>... --quick --profile]`: runs each scenario's measurements in
 * child processes (see bench/README.md), prints one line per figure and writes
 * `bench/results/<scenario>.json` with every figure and the machine it was measured on.
 */
import type { BenchOptions, ScenarioName } from './lib/cli.ts';
import { parseCli } from './lib/cli.ts';
import { benchIngestion } from './lib/ingestion-plan.ts';
import { benchProcessing } from './lib/processing-plan.ts';
import { machineInfo, writeResult } from './lib/results.ts';
import { benchStartup } from './lib/startup-plan.ts';

type Scenario = (options: BenchOptions, print: (line: string) => void) => Promise<object>;

const SCENARIO_RUNNERS: Record<ScenarioName, Scenario> = {
  processing: benchProcessing,
  ingestion: benchIngestion,
  startup: benchStartup,
};

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const options = parseCli(process.argv.slice(2));
  const started = Date.now();
  print(`bench ${options.scenarios.join(', ')}; concurrency ${options.concurrency}`);

  for (const scenario of options.scenarios) {
    const machine = machineInfo();
    const scenarioStarted = Date.now();
    const figures = await SCENARIO_RUNNERS[scenario](options, print);
    const seconds = Math.round((Date.now() - scenarioStarted) / 1000);
    const file = await writeResult(scenario, { scenario, machine, options, seconds, ...figures });
    print(`${scenario}: ${seconds} s, written to ${file}`);
  }
  print(`bench done in ${Math.round((Date.now() - started) / 1000)} s`);
}

await main();
