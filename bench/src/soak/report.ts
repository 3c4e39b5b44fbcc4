/**
 * The soak's verdict: its checks (each a hard failure with a message saying what went wrong), its
 * figures as a table for the terminal, and all of it, samples included, as JSON.
 */
import { percentiles } from '../measure.js';
import type { Machine } from '../report.js';
import { driverConnections, maxInFlight, mib, type SoakOptions, type SoakRun } from './run.js';

/**
 * pns samples its event loop every 100 ms (packages/server/src/ops/metrics.ts), and Node's
 * monitorEventLoopDelay records the whole interval between two samples, so /metrics's
 * nodejs_eventloop_lag_* values are this much above the lag itself (an idle server reports ≈ 100 ms).
 */
export const lagSampleMs = 100;
/** Handles (sockets, servers, timers) the server may hold after everyone left beyond those it had before anyone came. */
const handleSlack = 10;

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SoakReport {
  startedAt: string;
  machine: Machine;
  options: SoakOptions;
  passed: boolean;
  checks: Check[];
  figures: Record<string, number | string>;
  run: Omit<SoakRun, 'population' | 'publisher'> & {
    churn: SoakRun['population']['counts'];
    joinFailures: string[];
    publishing: SoakRun['publisher']['counts'];
    publishFailures: string[];
  };
}

function range(values: number[]): { min: number; max: number; mean: number } {
  if (values.length === 0) return { min: 0, max: 0, mean: 0 };
  return { min: Math.min(...values), max: Math.max(...values), mean: values.reduce((a, b) => a + b, 0) / values.length };
}

const sum = (record: Record<string, number>): number => Object.values(record).reduce((a, b) => a + b, 0);
const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

export function buildReport(options: SoakOptions, run: SoakRun, startedAt: Date, machine: Machine): SoakReport {
  const soak = run.samples.filter((sample) => sample.phase === 'soak');
  const open = range(soak.map((sample) => sample.open));
  const held = range(soak.map((sample) => sum(sample.held)));
  const lagP99 = soak.map((sample) => Math.max(0, sample.lagP99Ms - lagSampleMs));
  const lagMax = Math.max(0, ...soak.map((sample) => sample.lagMaxMs - lagSampleMs));
  const others = range(soak.map((sample) => sample.othersOnServerCpu));
  const gcMs = soak.reduce((total, sample) => total + sample.gcMs, 0);
  const warm = run.memory.afterWarmup.heapUsed;
  const end = run.memory.atEnd.heapUsed;
  const drift = (end - warm) / warm;
  const d = run.delivery;
  const churn = run.population.counts;
  const publishing = run.publisher.counts;
  const clientErrors = sum(run.clients.errors);
  const left = run.leftOver;
  const soakMinutes = run.phasesMs.soak / 60_000;

  const checks: Check[] = [
    {
      name: 'connections held',
      ok: churn.joinFailures === 0 && soak.length > 0 && open.min >= options.connections * 0.98,
      detail:
        `${options.connections} clients; open connections during the soak ${open.min}–${open.max} (at least 98 % required)` +
        (churn.joinFailures ? `; ${churn.joinFailures} clients failed to connect: ${run.population.joinFailures.join('; ')}` : ''),
    },
    {
      name: 'heap drift',
      ok: Math.abs(drift) <= options.heapTolerance,
      detail: `heap used after a forced GC: ${mib(warm)} after the warm-up, ${mib(end)} at the end: ${drift >= 0 ? '+' : ''}${pct(drift)} (at most ±${pct(options.heapTolerance)})`,
    },
    {
      name: 'back to zero',
      ok:
        sum(left.held) === 0 &&
        Object.keys(left.hubEntries).length > 0 &&
        sum(left.hubEntries) === 0 &&
        left.brokerChannels === 0 &&
        left.open <= driverConnections,
      detail:
        `after every client left: held ${JSON.stringify(left.held)}, hub ${JSON.stringify(left.hubEntries)}, ` +
        `broker channels ${left.brokerChannels}, open connections ${left.open} (at most ${driverConnections}: the driver's own)`,
    },
    {
      name: 'handles released',
      ok: left.activeHandles <= run.activeHandlesBefore + handleSlack,
      detail: `server's active handles ${left.activeHandles} after everyone left, ${run.activeHandlesBefore} before anyone came (at most ${handleSlack} more)`,
    },
    {
      name: 'exactly once',
      ok: d.missing === 0 && d.duplicates === 0 && d.unexpected === 0 && d.owed > 0,
      detail:
        `${d.delivered} of ${d.owed} owed deliveries arrived (${d.offlineDelivered} of ${d.offlineOwed} published while the user was away); ` +
        `missing ${d.missing}, duplicates ${d.duplicates}, unexpected ${d.unexpected}` +
        (d.examples.length ? `; e.g. ${d.examples.join('; ')}` : ''),
    },
    {
      name: 'publishes acknowledged',
      ok: publishing.failedRequests === 0 && publishing.skippedMessages === 0,
      detail:
        `${d.acknowledged} of ${d.published} messages acknowledged; ${publishing.failedRequests} requests failed, ${publishing.skippedMessages} messages skipped (${maxInFlight} requests in flight)` +
        (run.publisher.failures.length ? `: ${run.publisher.failures.join('; ')}` : ''),
    },
    {
      name: 'no client errors',
      ok: clientErrors === 0,
      detail: clientErrors ? `clients recovered from ${clientErrors} errors: ${JSON.stringify(run.clients.errors)}` : 'none',
    },
  ];

  const figures: Record<string, number | string> = {
    'duration, total': `${(run.phasesMs.total / 60_000).toFixed(1)} min`,
    'ramp / warm-up / soak / leave': [run.phasesMs.ramp, run.phasesMs.warmup, run.phasesMs.soak, run.phasesMs.leave]
      .map((ms) => `${(ms / 1000).toFixed(0)} s`)
      .join(' / '),
    'clients (processes)': `${options.connections} (${options.processes})`,
    'open connections during soak': `${open.min}–${open.max}`,
    'held subscriptions during soak': `${held.min}–${held.max} (mean ${held.mean.toFixed(0)})`,
    'churn: left / new / returned': `${churn.leaves} / ${churn.newUsers - options.connections} / ${churn.returns} (${((churn.leaves / Math.max(1, run.phasesMs.warmup + run.phasesMs.soak)) * 60_000).toFixed(0)} a minute each way)`,
    'never came back': churn.neverReturned,
    'published: messages / requests / batches': `${publishing.messages} / ${publishing.requests} / ${publishing.batches} (${(publishing.messages / Math.max(1, publishing.activeMs / 1000)).toFixed(0)} a second)`,
    'deliveries owed / delivered': `${d.owed} / ${d.delivered}`,
    'of them published while away / delivered on return': `${d.offlineOwed} / ${d.offlineDelivered}`,
    'in flight at a join or leave / received': `${d.inFlight} / ${d.inFlightReceived}`,
    'missing / duplicates / unexpected': `${d.missing} / ${d.duplicates} / ${d.unexpected}`,
    'publish to receive p50 / p99 (online, 500 ms between polls)': `${d.latencyMs.p50?.toFixed(1) ?? '–'} / ${d.latencyMs.p99?.toFixed(1) ?? '–'} ms`,
    'heap after warm-up / at end / drift': `${mib(warm)} / ${mib(end)} / ${drift >= 0 ? '+' : ''}${pct(drift)}`,
    'heap after everyone left': mib(run.memory.afterLeave.heapUsed),
    'RSS after warm-up / at end': `${mib(run.memory.afterWarmup.rss)} / ${mib(run.memory.atEnd.rss)}`,
    'event-loop lag p99: median / worst 5-s window': `${(percentiles(lagP99).p50 ?? 0).toFixed(1)} / ${Math.max(0, ...lagP99).toFixed(1)} ms`,
    'event-loop lag max': `${lagMax.toFixed(1)} ms`,
    'server CPU (mean of the soak)': pct(range(soak.map((sample) => sample.serverCpu)).mean),
    'its core used by other processes: mean / max': `${pct(others.mean)} / ${pct(others.max)}`,
    'GC during the soak': `${(gcMs / 1000).toFixed(1)} s (${pct(gcMs / Math.max(1, run.phasesMs.soak))})`,
    'client processes CPU': `${(run.clients.cpuMs / 1000).toFixed(0)} s (${((run.clients.cpuMs / run.phasesMs.total) * 100).toFixed(0)} % of a core)`,
    'soak minutes': soakMinutes.toFixed(2),
  };

  const { population, publisher, ...rest } = run;
  return {
    startedAt: startedAt.toISOString(),
    machine,
    options,
    passed: checks.every((check) => check.ok),
    checks,
    figures,
    run: {
      ...rest,
      churn: population.counts,
      joinFailures: population.joinFailures,
      publishing: publisher.counts,
      publishFailures: publisher.failures,
    },
  };
}

/** The figures and the checks as two plain-text tables. */
export function reportTable(report: SoakReport): string {
  const rows = Object.entries(report.figures).map(([name, value]) => [name, String(value)]);
  const width = Math.max(...rows.map(([name]) => (name as string).length));
  const lines = ['', 'Soak figures', ...rows.map(([name, value]) => `  ${(name as string).padEnd(width)}  ${value}`), '', 'Checks'];
  for (const check of report.checks) lines.push(`  ${check.ok ? 'ok    ' : 'FAILED'}  ${check.name}: ${check.detail}`);
  lines.push(
    '',
    report.passed
      ? 'Soak passed.'
      : `Soak FAILED: ${report.checks
          .filter((c) => !c.ok)
          .map((c) => c.name)
          .join(', ')}`,
    '',
  );
  return lines.join('\n');
}
