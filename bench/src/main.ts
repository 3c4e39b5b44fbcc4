/**
 * `npm run bench`: runs the chosen scenarios against each chosen target,
 * back to back, servers pinned to CPU 0 and the driver and load generators
 * to CPU 1; prints each scenario's table and writes results.json and
 * results.md. See bench/README.md.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { CliError, parseCli, usage } from './cli.js';
import { now } from './clock.js';
import { machine, pinSelf, runMain, stamp } from './host.js';
import { ProcessMeter } from './measure.js';
import { type BenchReport, scenarioTable, writeReport } from './report.js';
import type { ScenarioRun } from './results.js';
import { scenarios } from './scenarios/index.js';
import { targets } from './targets/index.js';

const serverCpu = 0;
const loadCpu = 1;
/** The hold every target's subscribers ask for: longer than any phase, so idle clients cause no traffic. */
const holdSeconds = 3600;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function main(args: string[]): Promise<number> {
  const known = targets.map((target) => target.name);
  let options: ReturnType<typeof parseCli>;
  try {
    options = parseCli(args, known);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    process.stderr.write(`${error.message}\n\n${usage}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (os.availableParallelism() < 2) log('warning: fewer than 2 CPUs: the server and the load share a core');
  // A quick run leaves out the targets too big for a smoke run unless they are named.
  const chosenTargets = targets.filter((target) =>
    options.targets ? options.targets.includes(target.name) : !(options.quick && target.explicitOnly),
  );
  const chosenScenarios = scenarios.filter((scenario) => !options.scenarios || options.scenarios.includes(scenario.id));
  const startedAt = new Date();
  const outDir = options.out ?? fileURLToPath(new URL(`../../results/${stamp(startedAt)}/`, import.meta.url));
  pinSelf(loadCpu, log);
  const t0 = now();
  const meter = new ProcessMeter();
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    durationMs: 0,
    options: { quick: options.quick, targets: chosenTargets.map((t) => t.name), scenarios: chosenScenarios.map((s) => s.id) },
    targetNotes: Object.fromEntries(chosenTargets.flatMap((t) => (t.note ? [[t.name, t.note]] : []))),
    machine: machine(),
    runs: [],
  };
  for (const scenario of chosenScenarios) {
    const runs: ScenarioRun[] = [];
    for (const target of chosenTargets) {
      if (target.scenarios && !target.scenarios.includes(scenario.id)) {
        log(`[${scenario.id} ${target.name}] skipped: this target runs scenarios ${target.scenarios.join(', ')} only`);
        continue;
      }
      log(`[${scenario.id} ${target.name}] ${scenario.title}`);
      const runStart = now();
      const run: ScenarioRun = {
        scenario: scenario.id,
        target: target.name,
        startedAt: new Date().toISOString(),
        durationMs: 0,
        rows: [],
        ...(target.compareWith ? { compareWith: [...target.compareWith] } : {}),
      };
      try {
        run.rows = await scenario.run({ target, quick: options.quick, serverCpu, loadCpu, holdSeconds, meter, log });
      } catch (error) {
        run.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
        log(`[${scenario.id} ${target.name}] failed: ${run.error}`);
      }
      run.durationMs = now() - runStart;
      runs.push(run);
      report.runs.push(run);
      report.durationMs = now() - t0;
      writeReport(outDir, report, chosenScenarios);
    }
    process.stdout.write(`\n${scenarioTable(scenario, runs)}\n`);
  }
  report.durationMs = now() - t0;
  writeReport(outDir, report, chosenScenarios);
  const failed = report.runs.filter((run) => run.error || run.rows.some((row) => row.failed));
  process.stdout.write(
    `Total ${(report.durationMs / 1000).toFixed(0)} s (${(report.durationMs / 60_000).toFixed(1)} min). Results: ${outDir}\n` +
      (failed.length ? `FAILED: ${failed.map((run) => `${run.scenario}/${run.target}`).join(', ')}\n` : 'All runs passed.\n'),
  );
  return failed.length ? 1 : 0;
}

runMain(() => main(process.argv.slice(2)), log);
