import type { ProcessMeter } from './measure.js';
import type { Target } from './target.js';

export const scenarioIds = ['A', 'B', 'C', 'D'] as const;
export type ScenarioId = (typeof scenarioIds)[number];

/** One line of a scenario's table for one target (a level, a variant). */
export interface Row {
  label: string;
  values: Record<string, number | null>;
  /** Lost, duplicated or misrouted deliveries, or errors where none are allowed. */
  failed: boolean;
  /** Why it failed, and anything else a reader must know. */
  notes: string[];
  /**
   * Latency distribution for a plot: ms at the nearest-rank percentiles 0, 1, …, 100, rounded to 0.1 ms
   * (scenario B; absent when nothing was delivered).
   */
  cdf?: number[];
}

/** One scenario against one target. */
export interface ScenarioRun {
  scenario: ScenarioId;
  target: string;
  startedAt: string;
  durationMs: number;
  rows: Row[];
  /** Set when the run could not complete (the target did not start, a load generator died…). */
  error?: string;
  /** Targets whose runs of this scenario its ratio columns are also divided by (Target.compareWith). */
  compareWith?: string[];
}

export type Format = 'int' | 'ms' | 'kib' | 'mib' | 'float' | 'pct' | 's';

export interface ColumnSpec {
  key: string;
  title: string;
  format: Format;
  /** Show each target's ratio to the reference target in this column. */
  ratio?: boolean;
}

/** What a scenario gets to run against one target. */
export interface RunContext {
  target: Target;
  quick: boolean;
  /** CPU the server is pinned to; the driver and load generators run on `loadCpu`. */
  serverCpu: number;
  loadCpu: number;
  /** Longest hold asked of every target, seconds. */
  holdSeconds: number;
  meter: ProcessMeter;
  log(line: string): void;
}

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** One paragraph for results.md: what is measured and how. */
  description: string;
  columns: ColumnSpec[];
  run(context: RunContext): Promise<Row[]>;
}
