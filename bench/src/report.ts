import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Plot, writePlots } from './plots.js';
import type { ColumnSpec, Format, Scenario, ScenarioRun } from './results.js';
import { formatJson, markdownTable } from './text-format.js';

/** The target every ratio compares with: Nchan when it ran, else Nchan on Redis. */
export const referenceTargets = ['nchan', 'nchan-redis'];

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  openFileLimit: string;
}

export interface BenchReport {
  startedAt: string;
  durationMs: number;
  options: { quick: boolean; targets: string[]; scenarios: string[] };
  /** What a reader must know about a target's figures (Target.note), by target. */
  targetNotes?: Record<string, string>;
  machine: Machine;
  runs: ScenarioRun[];
}

export function formatValue(value: number | null | undefined, format: Format): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  switch (format) {
    case 'int':
      return Math.round(value).toLocaleString('en-US');
    case 'ms':
      return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value).toLocaleString('en-US')} ms`;
    case 'kib':
      return `${value.toFixed(2)} KiB`;
    case 'mib':
      return `${value.toFixed(1)} MiB`;
    case 'pct':
      return `${Math.round(value)} %`;
    case 's':
      return `${value.toFixed(1)} s`;
    case 'float':
      return value === 0 ? '0' : String(Number(value.toPrecision(3)));
  }
}

/** `1.20×`, or undefined when either figure is missing or the quotient is not finite. */
function factor(value: number | null | undefined, reference: number | null | undefined): string | undefined {
  if (value === null || value === undefined || reference === null || reference === undefined || reference === 0) return undefined;
  if (!Number.isFinite(value / reference)) return undefined;
  return `${(value / reference).toFixed(2)}×`;
}

function ratio(value: number | null | undefined, reference: number | null | undefined): string {
  const shown = factor(value, reference);
  return shown === undefined ? '' : ` (${shown})`;
}

/** The reference of a scenario's runs: Nchan if it ran, else Nchan on Redis, else the first target. */
function referenceOf(runs: ScenarioRun[]): ScenarioRun | undefined {
  for (const name of referenceTargets) {
    const found = runs.find((run) => run.target === name && !run.error);
    if (found) return found;
  }
  return runs.find((run) => !run.error);
}

/** A markdown table: one line per target and row, each figure with its ratio to the reference where the column asks for it. */
export function scenarioTable(scenario: Scenario, runs: ScenarioRun[]): string {
  const reference = referenceOf(runs);
  const columns: ColumnSpec[] = scenario.columns;
  const notes: string[] = [];
  const rows: string[][] = [];
  for (const run of runs) {
    if (run.error) {
      rows.push([run.target, '–', ...columns.map(() => '–'), '**FAILED**']);
      notes.push(`- ${run.target}: ${run.error.split('\n')[0]}`);
      continue;
    }
    for (const row of run.rows) {
      // A row the reference does not have (a batched publish) compares with the reference's only row.
      const sameRow = reference?.rows.find((r) => r.label === row.label);
      const refRow = sameRow ?? (reference?.rows.length === 1 ? reference.rows[0] : undefined);
      if (!sameRow && refRow && reference && run !== reference && columns.some((c) => c.ratio)) {
        notes.push(`- ${run.target}, ${row.label}: ratios against ${reference.target}'s "${refRow.label}"`);
      }
      const cells = columns.map((column) => {
        const value = row.values[column.key];
        const shown = formatValue(value, column.format);
        return column.ratio && reference && run !== reference ? shown + ratio(value, refRow?.values[column.key]) : shown;
      });
      rows.push([run.target, row.label, ...cells, row.failed ? '**FAILED**' : 'ok']);
      for (const note of row.notes) notes.push(`- ${run.target}, ${row.label}: ${note}`);
    }
  }
  const further = pairRatios(runs, columns);
  const against = reference
    ? `Ratios (×) are to ${reference.target}${referenceTargets.includes(reference.target) ? '' : ' (Nchan did not run)'}.`
    : '';
  const table = markdownTable(
    ['target', 'run', ...columns.map((c) => c.title), 'status'],
    ['left', 'left', ...columns.map(() => 'right' as const), 'left'],
    rows,
  );
  return [
    `### ${scenario.title}`,
    '',
    scenario.description,
    '',
    table,
    '',
    against,
    ...(further.length ? ['', 'Further ratios, same columns:', '', ...further] : []),
    ...(notes.length ? ['', ...notes] : []),
    '',
  ].join('\n');
}

/**
 * `- a ÷ b, <row>: <column> 1.20×, …` for every run that names targets to compare with (pns on Redis with
 * pns in memory, say), row by row where both have the row; nothing for a pair where either failed to run.
 */
function pairRatios(runs: ScenarioRun[], columns: ColumnSpec[]): string[] {
  const lines: string[] = [];
  for (const run of runs) {
    for (const name of run.compareWith ?? []) {
      const other = runs.find((r) => r.target === name);
      if (run.error || !other || other.error) continue;
      for (const row of run.rows) {
        const otherRow = other.rows.find((r) => r.label === row.label);
        const cells = columns.flatMap((column) => {
          const shown = column.ratio ? factor(row.values[column.key], otherRow?.values[column.key]) : undefined;
          return shown === undefined ? [] : [`${column.title} ${shown}`];
        });
        if (cells.length) lines.push(`- ${run.target} ÷ ${name}, ${row.label}: ${cells.join(', ')}`);
      }
    }
  }
  return lines;
}

/** `Machine: <cpu>, <n> cores, Linux …, Node …, open files ….`: the line every report heads its figures with. */
export function machineLine(machine: Machine): string {
  return `Machine: ${machine.cpu}, ${machine.cores} cores, Linux ${machine.kernel}, Node ${machine.node}, open files ${machine.openFileLimit}.`;
}

export function markdownReport(report: BenchReport, scenarios: Scenario[], plots: Plot[] = []): string {
  const { machine } = report;
  const head = [
    `# pns benchmark, ${report.startedAt}`,
    '',
    `${report.options.quick ? 'Quick run' : 'Full run'} of ${report.options.targets.join(', ')}; scenarios ${report.options.scenarios.join(', ')}; ` +
      `took ${(report.durationMs / 60_000).toFixed(1)} min.`,
    '',
    `${machineLine(machine)} Each server is pinned to CPU 0, the driver and load generators to CPU 1.`,
    '',
    ...Object.entries(report.targetNotes ?? {}).map(([target, note]) => `- **${target}**: ${note}`),
    ...(report.targetNotes && Object.keys(report.targetNotes).length ? [''] : []),
    ...(plots.length ? [`Plots: ${plots.map((plot) => `[${plot.title}](${plot.file})`).join(', ')}.`, ''] : []),
  ];
  const sections = scenarios.map((scenario) =>
    scenarioTable(
      scenario,
      report.runs.filter((run) => run.scenario === scenario.id),
    ),
  );
  return [...head, ...sections].join('\n');
}

/** Writes results.json (raw), the plots (SVG, see plots.ts) and results.md, which links them, into `dir`. */
export function writeReport(dir: string, report: BenchReport, scenarios: Scenario[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), formatJson(report));
  const plots = writePlots(dir, report);
  writeFileSync(join(dir, 'results.md'), markdownReport(report, scenarios, plots));
}
