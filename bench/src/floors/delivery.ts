/**
 * Part 2, the delivery floor: a minimal node:http long-poll server (servers/http-floor.ts) and pns under
 * the same load client (delivery-client.ts), each server alone on the server core, the client on the load
 * core. What pns delivers per CPU-second next to what the least node:http can.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pinnedCommand } from '../pinned.js';
import type { ColumnSpec } from '../results.js';
import type { StartedServer } from '../target.js';
import type { DeliveryResult, FromDeliveryClient } from './delivery-client.js';
import type { PartContext } from './held.js';
import type { FloorPart, FloorRow } from './report.js';
import { startModule, startPns } from './server-process.js';

export interface DeliverySettings {
  subscribers: number;
  /** Publish requests in flight, one message each. */
  publishers: number;
  /** Publishing before the measured window (its messages are not counted). */
  warmupMs: number;
  measureMs: number;
}

export const deliverySettings: { quick: DeliverySettings; full: DeliverySettings } = {
  quick: { subscribers: 1000, publishers: 32, warmupMs: 3000, measureMs: 3000 },
  full: { subscribers: 1000, publishers: 32, warmupMs: 3000, measureMs: 10_000 },
};

const holdSeconds = 3600;
const drainTimeoutMs = 10_000;
/** Beyond warm-up and window: opening the subscribers (30 s at most), the last publishes, the drain, exiting. */
const clientSlackMs = 75_000;

interface DeliveryKind {
  name: string;
  start(cpu: number): Promise<StartedServer>;
}

export const deliveryKinds: DeliveryKind[] = [
  { name: 'node:http floor', start: (cpu) => startModule('http-floor', cpu) },
  { name: 'pns', start: (cpu) => startPns(cpu, holdSeconds) },
];

/** Runs the load client pinned to `cpu` against `server`; resolves with its result, killing it if it overruns. */
function runClient(server: StartedServer, settings: DeliverySettings, cpu: number): Promise<DeliveryResult> {
  const script = fileURLToPath(new URL('./delivery-client.js', import.meta.url));
  const args = [
    ...['--url', server.url, '--server-pid', String(server.pids[0]), '--subscribers', String(settings.subscribers)],
    ...['--publishers', String(settings.publishers), '--warmup-ms', String(settings.warmupMs), '--measure-ms', String(settings.measureMs)],
    ...['--hold', String(holdSeconds), '--drain-timeout-ms', String(drainTimeoutMs)],
  ];
  const { command, args: argv } = pinnedCommand(cpu, [process.execPath, '--enable-source-maps', script, ...args]);
  const child = spawn(command, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const budgetMs = settings.warmupMs + settings.measureMs + drainTimeoutMs + clientSlackMs;
  return new Promise<DeliveryResult>((resolve, reject) => {
    let answer: FromDeliveryClient | undefined;
    const timer = setTimeout(() => {
      answer ??= { t: 'fatal', message: `the load client did not finish within ${budgetMs / 1000} s` };
      child.kill('SIGKILL');
    }, budgetMs);
    child.on('message', (message: FromDeliveryClient) => {
      answer ??= message;
    });
    child.once('error', (error) => {
      answer ??= { t: 'fatal', message: error.message };
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', killOnExit);
      if (answer?.t === 'result') resolve(answer);
      else reject(new Error(answer?.message ?? `the load client exited (${signal ?? code}) without a result`));
    });
  });
}

export async function runDelivery(kind: DeliveryKind, context: PartContext): Promise<FloorRow> {
  const settings = context.quick ? deliverySettings.quick : deliverySettings.full;
  const server = await kind.start(context.serverCpu);
  try {
    context.log(
      `  ${settings.subscribers} subscribers, ${settings.publishers} publishes in flight, ${settings.measureMs / 1000} s measured`,
    );
    const result = await runClient(server, settings, context.loadCpu);
    const notes: string[] = [];
    if (result.cpus !== String(context.loadCpu)) notes.push(`the load client ran on CPUs ${result.cpus}, not ${context.loadCpu}`);
    if (result.lost > 0) notes.push(`${result.lost} messages lost (not delivered within ${drainTimeoutMs / 1000} s)`);
    if (result.duplicated > 0) notes.push(`${result.duplicated} messages delivered twice`);
    if (result.misrouted > 0) notes.push(`${result.misrouted} deliveries to the wrong subscriber`);
    if (result.publishFailures > 0) notes.push(`${result.publishFailures} publishes failed: ${result.firstFailures.join('; ')}`);
    const retries = Object.entries(result.errors);
    if (retries.length > 0) notes.push(`subscriber retries: ${retries.map(([kind, count]) => `${kind} ×${count}`).join(', ')}`);
    const row: FloorRow = {
      server: kind.name,
      values: {
        published: result.published,
        delivered: result.delivered,
        deliveredPerS: result.delivered / (result.windowMs / 1000),
        serverCpuPct: (100 * result.serverCpuMs) / result.windowMs,
        perCpuS: result.serverCpuMs > 0 ? result.delivered / (result.serverCpuMs / 1000) : null,
        loadCpuPct: (100 * result.clientCpuMs) / result.windowMs,
        lost: result.lost,
        duplicated: result.duplicated,
      },
      failed: notes.length > 0,
      notes,
    };
    context.log(`  ${result.delivered} of ${result.published} delivered, ${Math.round(row.values.perCpuS ?? 0)} per server CPU-s`);
    return row;
  } finally {
    await server.stop();
  }
}

export function deliveryPart(settings: DeliverySettings, rows: FloorRow[]): FloorPart {
  const columns: ColumnSpec[] = [
    { key: 'published', title: 'published', format: 'int' },
    { key: 'delivered', title: 'delivered', format: 'int' },
    { key: 'deliveredPerS', title: 'delivered/s', format: 'int' },
    { key: 'serverCpuPct', title: 'server CPU', format: 'pct' },
    { key: 'perCpuS', title: 'delivered / server CPU-s', format: 'int' },
    { key: 'loadCpuPct', title: 'load client CPU', format: 'pct' },
  ];
  return {
    title: '2. Delivery floor',
    description:
      `${settings.subscribers.toLocaleString('en-US')} subscribers (one per user) re-poll as soon as each answer comes; ${settings.publishers} publish requests in flight, ` +
      `one message each, to random users: ${settings.warmupMs / 1000} s of warm-up, then ${settings.measureMs / 1000} s measured. ` +
      'The floor is a minimal `node:http` long-poll server (publish answers the one held poll of that user; JSON bodies), pns is `pns serve`; ' +
      'both get the same client in one process (the bench’s pns subscriber and a publisher loop). ' +
      'Published counts the measured messages whose publish was acknowledged; each must be delivered exactly once (a loss, a duplicate or a failed publish fails the row). ' +
      'The window runs from the first measured publish to the last delivery; server CPU and the load client’s CPU are in % of one core over it. ' +
      'When the load client’s CPU nears 100 %, the client limits the rate; delivered per server CPU-s is still the server’s.',
    columns,
    rows,
  };
}
