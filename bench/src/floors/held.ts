/**
 * Part 1, held requests: what one held request costs each server kind by itself. Each server runs alone,
 * pinned to the server core; the bench's load generators (pinned to the load core) open N requests it
 * never answers, then the server's RSS and idle CPU are read.
 */
import { now, sleep, withTimeout } from '../clock.js';
import { LoadGenPool } from '../loadgen-pool.js';
import type { ProcessMeter } from '../measure.js';
import type { ColumnSpec } from '../results.js';
import type { StartedServer } from '../target.js';
import { pnsTarget } from '../targets/pns.js';
import type { FloorPart, FloorRow } from './report.js';
import { startModule, startPns } from './server-process.js';

export interface HeldSettings {
  n: number;
  /** After the last request is written, before measuring: for the server to read it and its memory to settle. */
  settleMs: number;
  /** Idle hold over which the server's CPU is measured; RSS "after" is read at its end, as scenario A does. */
  holdMs: number;
}

export const heldSettings: { quick: HeldSettings; full: HeldSettings } = {
  quick: { n: 2000, settleMs: 2000, holdMs: 3000 },
  full: { n: 15_000, settleMs: 2000, holdMs: 10_000 },
};

/** The hold pns is started with and its clients ask for: longer than any run, so nothing is answered. */
const holdSeconds = 3600;
const subscribeTimeoutMs = 120_000;
const poolTimeoutMs = 30_000;
const statsTimeoutMs = 10_000;

interface HeldKind {
  name: string;
  start(cpu: number): Promise<StartedServer>;
  /** Subscriber module the load generators load (relative to bench/dist/src). */
  subscriberModule: string;
}

const floorSubscriber = './floors/held-subscriber.js';

export const heldKinds: HeldKind[] = [
  { name: 'raw net', start: (cpu) => startModule('net-held', cpu), subscriberModule: floorSubscriber },
  { name: 'node:http', start: (cpu) => startModule('http-held', cpu), subscriberModule: floorSubscriber },
  { name: 'Fastify 5', start: (cpu) => startModule('fastify-held', cpu), subscriberModule: floorSubscriber },
  { name: 'pns', start: (cpu) => startPns(cpu, holdSeconds), subscriberModule: pnsTarget.subscriberModule },
];

export interface PartContext {
  quick: boolean;
  serverCpu: number;
  loadCpu: number;
  meter: ProcessMeter;
  log(line: string): void;
}

export async function runHeld(kind: HeldKind, context: PartContext): Promise<FloorRow> {
  const { n, settleMs, holdMs } = context.quick ? heldSettings.quick : heldSettings.full;
  const { meter, log } = context;
  const server = await kind.start(context.serverCpu);
  let pool: LoadGenPool | undefined;
  try {
    pool = await withTimeout(
      LoadGenPool.start({
        target: { subscriberModule: kind.subscriberModule },
        serverUrl: server.url,
        holdSeconds,
        subscribers: n,
        cpu: context.loadCpu,
        sink: () => {},
      }),
      poolTimeoutMs,
      'starting the load generators',
    );
    await sleep(1000);
    const rssBefore = meter.totalRssBytes(server.pids);
    const rampStart = now();
    const outcome = await withTimeout(pool.subscribe(0, n), subscribeTimeoutMs, `opening ${n} held requests`);
    const rampMs = now() - rampStart;
    await sleep(settleMs);
    const rssSettled = meter.totalRssBytes(server.pids);
    const cpu0 = meter.totalCpuMs(server.pids);
    const t0 = now();
    log(`  ${outcome.subscribed} held; idle for ${holdMs / 1000} s`);
    await sleep(holdMs);
    const cpu1 = meter.totalCpuMs(server.pids);
    const t1 = now();
    const rssAfter = meter.totalRssBytes(server.pids);
    const stats = await withTimeout(pool.stats(), statsTimeoutMs, 'load generator stats');
    const errors = Object.values(stats.errors).reduce((sum, count) => sum + count, 0);
    const notes: string[] = [];
    if (outcome.failed > 0) notes.push(`${outcome.failed} requests failed to open: ${outcome.failures.join('; ')}`);
    const errorList = Object.entries(stats.errors).map(([kind, count]) => `${kind} ×${count}`);
    if (errors > 0) notes.push(`errors: ${errorList.join(', ')}`);
    if (rssAfter === 0) notes.push('server process gone');
    const row: FloorRow = {
      server: kind.name,
      values: {
        held: outcome.subscribed,
        rssBeforeMiB: rssBefore / 2 ** 20,
        rssSettledMiB: rssSettled / 2 ** 20,
        rssAfterMiB: rssAfter / 2 ** 20,
        rssPerConnKiB: (rssAfter - rssBefore) / n / 1024,
        idleCpuMs: cpu1 - cpu0,
        idleCpuMsPerConnMin: (cpu1 - cpu0) / (n * ((t1 - t0) / 60_000)),
        rampS: rampMs / 1000,
        errors,
      },
      failed: notes.length > 0,
      notes,
    };
    const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
    log(`  RSS ${mib(rssBefore)} → ${mib(rssAfter)} MiB, ${row.values.rssPerConnKiB?.toFixed(2)} KiB/request`);
    return row;
  } finally {
    await pool?.close();
    await server.stop();
  }
}

export function heldPart(settings: HeldSettings, rows: FloorRow[]): FloorPart {
  const columns: ColumnSpec[] = [
    { key: 'held', title: 'held', format: 'int' },
    { key: 'rssBeforeMiB', title: 'RSS before', format: 'mib' },
    { key: 'rssAfterMiB', title: 'RSS after', format: 'mib' },
    { key: 'rssPerConnKiB', title: 'RSS / held request', format: 'kib' },
    { key: 'idleCpuMs', title: `idle CPU over ${settings.holdMs / 1000} s`, format: 'ms' },
    { key: 'idleCpuMsPerConnMin', title: 'idle CPU ms / request·min', format: 'float' },
    { key: 'errors', title: 'errors', format: 'int' },
  ];
  return {
    title: '1. Held requests',
    description:
      `${settings.n.toLocaleString('en-US')} requests held open by each server, alone on CPU 0: raw \`net\` (reads the request head, never answers), ` +
      'plain `node:http` (keeps the response), Fastify 5 (a route that never replies) and `pns serve` (held polls with a cursor, as the bench’s pns clients make them). ' +
      `RSS before is read before the first request, RSS after at the end of a ${settings.holdMs / 1000} s idle hold that starts ${settings.settleMs / 1000} s after the last request was sent; ` +
      'RSS / held request = (after − before) / N. Idle CPU is the server’s over that hold. Any error fails the row.',
    columns,
    rows,
  };
}
