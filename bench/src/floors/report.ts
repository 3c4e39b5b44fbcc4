/** The floors' report: one markdown table per part (stdout and floors.md) and the raw figures (floors.json). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatValue, type Machine, machineLine } from '../report.js';
import type { ColumnSpec } from '../results.js';
import { formatJson, markdownTable } from '../text-format.js';

/** One server's line in a part's table. */
export interface FloorRow {
  server: string;
  values: Record<string, number | null>;
  /** A loss, an error where none is allowed, or a run that could not complete. */
  failed: boolean;
  notes: string[];
  /** Set when the run could not complete (the server did not start, a wait timed out…). */
  error?: string;
}

/** One part of the tool: what it measures, its columns, its rows. */
export interface FloorPart {
  title: string;
  description: string;
  columns: ColumnSpec[];
  rows: FloorRow[];
}

export interface FloorsReport {
  startedAt: string;
  durationMs: number;
  quick: boolean;
  machine: Machine;
  settings: Record<string, unknown>;
  parts: FloorPart[];
}

export function partTable(part: FloorPart): string {
  const notes: string[] = [];
  const rows = part.rows.map((row) => {
    if (row.error) notes.push(`- ${row.server}: ${row.error.split('\n')[0]}`);
    for (const note of row.notes) notes.push(`- ${row.server}: ${note}`);
    const cells = part.columns.map((column) => (row.error ? '–' : formatValue(row.values[column.key], column.format)));
    return [row.server, ...cells, row.failed || row.error ? '**FAILED**' : 'ok'];
  });
  const table = markdownTable(
    ['server', ...part.columns.map((column) => column.title), 'status'],
    ['left', ...part.columns.map(() => 'right' as const), 'left'],
    rows,
  );
  return [`### ${part.title}`, '', part.description, '', table, ...(notes.length ? ['', ...notes] : []), ''].join('\n');
}

export function markdownReport(report: FloorsReport): string {
  return [
    `# pns floors, ${report.startedAt}`,
    '',
    `${report.quick ? 'Quick run' : 'Full run'} of \`npm run bench:floors\`; took ${(report.durationMs / 60_000).toFixed(1)} min.`,
    '',
    `${machineLine(report.machine)} Each server is pinned to CPU 0, the tool and its client processes to CPU 1.`,
    '',
    ...report.parts.map(partTable),
  ].join('\n');
}

/** Writes floors.json (raw) and floors.md (the tables) into `dir`. */
export function writeReport(dir: string, report: FloorsReport): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'floors.json'), formatJson(report));
  writeFileSync(join(dir, 'floors.md'), markdownReport(report));
}

/** The row of a run that threw. */
export function failedRow(server: string, error: unknown): FloorRow {
  return {
    server,
    values: {},
    failed: true,
    notes: [],
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  };
}
