/**
 * Plots of a report, hand-written SVG next to results.md: RSS per held
 * connection (A), the fan-out latency distribution (B) and deliveries per
 * server CPU-second (C). A plot with nothing to show is not written.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchReport } from './report.js';
import type { Row, ScenarioRun } from './results.js';

export interface Plot {
  file: string;
  title: string;
}

interface Series {
  name: string;
  colour: string;
  points: [number, number][];
  dashed?: boolean;
  /** A marker on each point, hollow where `hollow[i]` (a failed level). */
  markers?: boolean;
  hollow?: boolean[];
}

interface Bar {
  label: string;
  value: number;
  colour: string;
  /** A second row of the same target (the batched publish): a lighter shade. */
  faint: boolean;
  note: string;
}

interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
  log: boolean;
}

interface Chart {
  title: string;
  desc: string;
  /** Targets or rows left out, shown under the plot. */
  missing: string[];
}

/** Colour-blind safe (Okabe–Ito); a target keeps its colour in every plot. */
const targetColours: Record<string, string> = {
  pns: '#0072B2',
  'pns-sse': '#56B4E9',
  'pns-ws': '#000000',
  nchan: '#D55E00',
  'socket.io': '#009E73',
  'socket.io-ws': '#E69F00',
  faye: '#CC79A7',
  // Paul Tol's muted scheme for the Redis targets, so they keep a colour of their own beside the others.
  'pns-redis': '#332288',
  'pns-redis-3': '#44AA99',
  'pns-workers': '#999933',
  'nchan-redis': '#882255',
};
const spareColours = ['#999999', '#F0E442'];
const font = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
/** Rough width of a character of 12 px text, for laying out labels. */
const charWidth = 6.8;

function colourOf(target: string, report: BenchReport): string {
  const spare = report.options.targets.filter((name) => !(name in targetColours)).indexOf(target);
  return targetColours[target] ?? (spareColours[Math.max(0, spare) % spareColours.length] as string);
}

const esc = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
const r = (v: number): number => Math.round(v * 10) / 10;
const num = (v: number): string => (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(Number(v.toPrecision(4))));
const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
const failedMark = (row: Row): string => (row.failed ? ' (FAILED)' : '');

function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const n = raw / magnitude;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * magnitude;
}

function linearAxis(min: number, max: number): Axis {
  if (!(max > min)) max = min + (Math.abs(min) || 1);
  const step = niceStep((max - min) / 5);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { lo, hi, ticks, log: false };
}

/** Powers of ten around min..max (min at least 0.1), ticks at 1, 2, 5 × 10^k. */
function logAxis(min: number, max: number): Axis {
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.1, min)));
  const hi = Math.max(lo * 10, 10 ** Math.ceil(Math.log10(Math.max(0.1, max))));
  const ticks: number[] = [];
  for (let decade = lo; decade < hi; decade *= 10) for (const k of [1, 2, 5]) ticks.push(Number((k * decade).toPrecision(3)));
  ticks.push(hi);
  return { lo, hi, ticks, log: true };
}

/** Where `v` falls between a and b (pixels) on an axis. */
function place(axis: Axis, v: number, a: number, b: number): number {
  const f = axis.log
    ? (Math.log10(Math.max(v, axis.lo)) - Math.log10(axis.lo)) / (Math.log10(axis.hi) - Math.log10(axis.lo))
    : (v - axis.lo) / (axis.hi - axis.lo);
  return r(a + (b - a) * f);
}

function svg(width: number, height: number, chart: Chart, body: string[]): string {
  const note = chart.missing.length ? `Not shown: ${chart.missing.join('; ')}.` : '';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="title desc" font-family="${esc(font)}" font-size="12" fill="#222">`,
    `<title id="title">${esc(chart.title)}</title>`,
    `<desc id="desc">${esc([chart.desc, note].filter(Boolean).join(' '))}</desc>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="26" text-anchor="middle" font-size="16" font-weight="600">${esc(chart.title)}</text>`,
    ...body,
    note ? `<text x="12" y="${height - 8}" font-size="11" fill="#666">${esc(note)}</text>` : '',
    '</svg>',
    '',
  ]
    .filter(Boolean)
    .join('\n');
}

/** A legend: one line per entry, a colour sample (line or box) and its name. */
function legend(x: number, y: number, entries: { name: string; colour: string; dashed?: boolean; box?: boolean }[]): string[] {
  return entries.flatMap((entry, i) => {
    const cy = y + i * 20;
    const sample = entry.box
      ? `<rect x="${x}" y="${cy - 6}" width="24" height="12" fill="${entry.colour}"/>`
      : `<line x1="${x}" y1="${cy}" x2="${x + 24}" y2="${cy}" stroke="${entry.colour}" stroke-width="2.5"${entry.dashed ? ' stroke-dasharray="6 4"' : ''}/>`;
    return [sample, `<text x="${x + 32}" y="${cy + 4}">${esc(entry.name)}</text>`];
  });
}

/** A line chart, the legend on the right. */
function lineChart(chart: Chart, x: Axis, y: Axis, xLabel: string, yLabel: string, series: Series[]): string {
  const legendWidth = 44 + charWidth * Math.max(...series.map((s) => s.name.length));
  const width = Math.max(760, Math.round(560 + legendWidth));
  const height = 480;
  const [left, right, top, bottom] = [76, width - legendWidth - 24, 50, height - 76];
  const px = (v: number): number => place(x, v, left, right);
  const py = (v: number): number => place(y, v, bottom, top);
  const body: string[] = [];
  for (const t of x.ticks) {
    const major = !x.log || Number.isInteger(Math.log10(t)) || x.ticks.length <= 10;
    body.push(`<line x1="${px(t)}" y1="${top}" x2="${px(t)}" y2="${bottom}" stroke="${major ? '#ddd' : '#eee'}"/>`);
    if (major) body.push(`<text x="${px(t)}" y="${bottom + 18}" text-anchor="middle">${num(t)}</text>`);
  }
  for (const t of y.ticks) {
    body.push(`<line x1="${left}" y1="${py(t)}" x2="${right}" y2="${py(t)}" stroke="#ddd"/>`);
    body.push(`<text x="${left - 8}" y="${py(t) + 4}" text-anchor="end">${num(t)}</text>`);
  }
  body.push(`<path d="M${left} ${top}V${bottom}H${right}" fill="none" stroke="#444"/>`);
  body.push(`<text x="${r((left + right) / 2)}" y="${bottom + 42}" text-anchor="middle">${esc(xLabel)}</text>`);
  body.push(`<text transform="translate(20 ${r((top + bottom) / 2)}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  for (const s of series) {
    const points = s.points.map(([vx, vy]) => `${px(vx)},${py(vy)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    body.push(`<polyline points="${points}" fill="none" stroke="${s.colour}" stroke-width="2.5" stroke-linejoin="round"${dash}/>`);
    if (!s.markers) continue;
    s.points.forEach(([vx, vy], i) => {
      const paint = s.hollow?.[i] ? `fill="#fff" stroke="${s.colour}" stroke-width="2"` : `fill="${s.colour}"`;
      body.push(`<circle cx="${px(vx)}" cy="${py(vy)}" r="4" ${paint}/>`);
    });
  }
  body.push(...legend(right + 24, top + 8, series));
  return svg(width, height, chart, body);
}

/** Horizontal bars, one per entry, each labelled on the left and with its value at its end. */
function barChart(chart: Chart, xLabel: string, bars: Bar[]): string {
  const labelWidth = 16 + charWidth * Math.max(...bars.map((b) => b.label.length));
  const width = Math.max(760, Math.round(labelWidth + 520));
  const [barHeight, gap, top] = [24, 12, 56];
  const height = top + bars.length * (barHeight + gap) + 76;
  const [left, right, bottom] = [Math.round(labelWidth + 12), width - 120, height - 76];
  const x = linearAxis(0, Math.max(...bars.map((b) => b.value)));
  const px = (v: number): number => place(x, v, left, right);
  const body: string[] = [];
  for (const t of x.ticks) {
    body.push(`<line x1="${px(t)}" y1="${top - 6}" x2="${px(t)}" y2="${bottom}" stroke="#ddd"/>`);
    body.push(`<text x="${px(t)}" y="${bottom + 18}" text-anchor="middle">${num(t)}</text>`);
  }
  bars.forEach((bar, i) => {
    const y = top + i * (barHeight + gap);
    const opacity = bar.faint ? ' fill-opacity="0.55"' : '';
    body.push(`<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(bar.label)}</text>`);
    body.push(`<rect x="${left}" y="${y}" width="${r(px(bar.value) - left)}" height="${barHeight}" fill="${bar.colour}"${opacity}/>`);
    body.push(`<text x="${px(bar.value) + 6}" y="${y + 16}">${esc(num(bar.value) + bar.note)}</text>`);
  });
  body.push(`<path d="M${left} ${top - 6}V${bottom}H${right}" fill="none" stroke="#444"/>`);
  body.push(`<text x="${r((left + right) / 2)}" y="${bottom + 42}" text-anchor="middle">${esc(xLabel)}</text>`);
  return svg(width, height, chart, body);
}

/** A scenario's runs that completed, and a note for each that did not. */
function completed(report: BenchReport, scenario: string, missing: string[]): ScenarioRun[] {
  const runs = report.runs.filter((run) => run.scenario === scenario);
  for (const run of runs) if (run.error) missing.push(`${run.target} (run failed)`);
  return runs.filter((run) => !run.error);
}

function rssPerConnection(report: BenchReport): string | undefined {
  const missing: string[] = [];
  const series: Series[] = [];
  const desc: string[] = [];
  for (const run of completed(report, 'A', missing)) {
    const rows = run.rows.filter((row) => finite(row.values.n) && finite(row.values.rssPerConnKiB));
    if (rows.length === 0) {
      missing.push(`${run.target} (no levels measured)`);
      continue;
    }
    const points = rows.map((row): [number, number] => [row.values.n as number, row.values.rssPerConnKiB as number]);
    const hollow = rows.map((row) => row.failed);
    const name = run.target + (hollow.includes(true) ? ' (hollow: level FAILED)' : '');
    series.push({ name, colour: colourOf(run.target, report), points, markers: true, hollow });
    desc.push(`${name}: ${points.map(([n, kib]) => `${kib.toFixed(2)} KiB at N = ${num(n)}`).join(', ')}.`);
  }
  if (series.length === 0) return undefined;
  const all = series.flatMap((s) => s.points);
  const chart: Chart = {
    title: 'A. Held connections: server RSS per connection',
    desc: `Server RSS per held connection ((RSS at the level − RSS before any connection) / N) against N, one line per target. ${desc.join(' ')}`,
    missing,
  };
  const x = linearAxis(0, Math.max(...all.map(([n]) => n)));
  const y = linearAxis(Math.min(0, ...all.map(([, kib]) => kib)), Math.max(...all.map(([, kib]) => kib)));
  return lineChart(chart, x, y, 'held connections N', 'server RSS per connection (KiB)', series);
}

function fanoutLatency(report: BenchReport): string | undefined {
  const missing: string[] = [];
  const series: Series[] = [];
  const desc: string[] = [];
  for (const run of completed(report, 'B', missing)) {
    run.rows.forEach((row, i) => {
      const name = `${run.target} ${row.label}${failedMark(row)}`;
      if (!row.cdf || row.cdf.length < 2) {
        missing.push(`${run.target} ${row.label} (nothing delivered)`);
        return;
      }
      // Lost deliveries keep the curve below 1: y is the share of the deliveries owed.
      const { delivered, lost } = row.values;
      const share = finite(delivered) && finite(lost) && delivered + lost > 0 ? delivered / (delivered + lost) : 1;
      const cdf = row.cdf;
      const points = cdf.map((ms, k): [number, number] => [ms, (share * k) / (cdf.length - 1)]);
      series.push({ name, colour: colourOf(run.target, report), points, dashed: i > 0 });
      const at = (p: number): string => `${num(cdf[Math.round((p / 100) * (cdf.length - 1))] as number)} ms`;
      desc.push(`${name}: p50 ${at(50)}, p99 ${at(99)}, max ${at(100)}${share < 1 ? `, ${num(100 * share)} % delivered` : ''}.`);
    });
  }
  if (series.length === 0) return undefined;
  const all = series.flatMap((s) => s.points.map(([ms]) => ms));
  const chart: Chart = {
    title: 'B. Fan-out: publish-to-receive latency distribution',
    desc: `Share of the deliveries owed that arrived within a given latency, one line per target and round (solid: first round, dashed: second). ${desc.join(' ')}`,
    missing,
  };
  const x = logAxis(Math.min(...all), Math.max(...all));
  return lineChart(chart, x, linearAxis(0, 1), 'publish-to-receive latency (ms, log scale)', 'fraction delivered', series);
}

function deliveriesPerCpuSecond(report: BenchReport): string | undefined {
  const missing: string[] = [];
  const bars: Bar[] = [];
  for (const run of completed(report, 'C', missing)) {
    run.rows.forEach((row, i) => {
      const value = row.values.perCpuS;
      const colour = colourOf(run.target, report);
      if (finite(value)) bars.push({ label: `${run.target}, ${row.label}`, value, colour, faint: i > 0, note: failedMark(row) });
      else missing.push(`${run.target}, ${row.label} (no server CPU measured)`);
    });
  }
  if (bars.length === 0) return undefined;
  const chart: Chart = {
    title: 'C. Sustained delivery: deliveries per server CPU-second',
    desc: `Messages delivered per second of server CPU time (publishing included), one bar per target and publish mode. ${bars.map((b) => `${b.label}: ${num(b.value)}${b.note}.`).join(' ')}`,
    missing,
  };
  return barChart(chart, 'delivered messages per server CPU-second', bars);
}

const plots: (Plot & { make(report: BenchReport): string | undefined })[] = [
  { file: 'rss-per-connection.svg', title: 'A: RSS per held connection', make: rssPerConnection },
  { file: 'fanout-latency-cdf.svg', title: 'B: fan-out latency CDF', make: fanoutLatency },
  { file: 'deliveries-per-cpu-second.svg', title: 'C: deliveries per server CPU-second', make: deliveriesPerCpuSecond },
];

/** Writes each plot the report has data for into `dir` (removing one left from an earlier run that now has none); returns those written. */
export function writePlots(dir: string, report: BenchReport): Plot[] {
  const written: Plot[] = [];
  for (const { file, title, make } of plots) {
    const text = make(report);
    if (text === undefined) rmSync(join(dir, file), { force: true });
    else {
      writeFileSync(join(dir, file), text);
      written.push({ file, title });
    }
  }
  return written;
}
