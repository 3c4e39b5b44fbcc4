/**
 * One soak run, phase by phase: start pns (CPU 0) and the client processes (CPU 1, with this driver);
 * ramp up to the target number of clients; warm up under publishes and churn for at least one message
 * ttl, so the retained set is as large as it will stay; take the server's heap after a forced GC; soak
 * for the given minutes, sampling /metrics every 5 s; stop publishing, let deliveries settle, take the heap
 * again; then every client leaves and the server's counts must come back to zero. Every wait is bounded.
 */
import { now, sleep, waitFor } from '../clock.js';
import { Churn } from './churn.js';
import { ClientPool, type ClientStats } from './client-pool.js';
import { type LedgerResult, SoakLedger } from './ledger.js';
import { Population } from './population.js';
import { Publisher } from './publisher.js';
import { labelled, type Sample, Sampler } from './sampler.js';
import { SoakServer } from './server.js';

export interface SoakOptions {
  minutes: number;
  connections: number;
  warmupSeconds: number;
  processes: number;
  /** Messages published per second. */
  rate: number;
  /** Share of the connections that leave, and of new or returning ones that join, per minute (0.04 = 4 %). */
  churnPerMinute: number;
  /** Message ttl, seconds: a returning client comes back within half of it. */
  ttlSeconds: number;
  /** Largest heap drift allowed between the end of the warm-up and the end of the soak (0.1 = 10 %). */
  heapTolerance: number;
  serverCpu: number;
  loadCpu: number;
}

/** What the clients ask and the server is started with: the server's default hold, which the seed client uses. */
export const holdSeconds = 25;
/** The seed client polls again 500 ms after an answer. */
const repollDelayMs = 500;
/**
 * Publish requests in flight at most. At 200 messages a second (about 100 requests) this is a stall of more than half
 * a second on the server's side before a message is skipped: a neighbour's burst on a shared core is not one.
 */
export const maxInFlight = 64;
/** Deliveries to a client that leaves within this of a publish's answer are not owed (ledger.ts). */
export const graceMs = 3000;
const settleMs = 3000;

/** After every client left: what the server still counts. */
export interface LeftOver {
  held: Record<string, number>;
  open: number;
  hubEntries: Record<string, number>;
  brokerChannels: number;
  activeHandles: number;
}

export interface SoakRun {
  phasesMs: { ramp: number; warmup: number; soak: number; leave: number; total: number };
  memory: { afterWarmup: NodeJS.MemoryUsage; atEnd: NodeJS.MemoryUsage; afterLeave: NodeJS.MemoryUsage };
  activeHandlesBefore: number;
  leftOver: LeftOver;
  samples: Sample[];
  population: Population;
  publisher: Publisher;
  delivery: LedgerResult;
  clients: ClientStats;
}

/** The open connections the driver itself may still have when it counts (its /metrics scrape). */
export const driverConnections = 2;

export async function runSoak(options: SoakOptions, log: (line: string) => void): Promise<SoakRun> {
  const t0 = now();
  const server = await SoakServer.start({ cpu: options.serverCpu, holdSeconds, ttlSeconds: options.ttlSeconds });
  log(`pns serve ready at ${server.url} (pid ${server.pid})`);
  const ledger = new SoakLedger();
  const population = new Population({
    processes: options.processes,
    sseShare: 0.1,
    websocketShare: 0.1,
    minOfflineMs: Math.min(2000, (options.ttlSeconds * 1000) / 4),
    maxOfflineMs: (options.ttlSeconds * 1000) / 2,
  });
  let pool: ClientPool | undefined;
  try {
    const activeHandlesBefore = (await server.metrics()).get('nodejs_active_handles_total') ?? 0;
    pool = await ClientPool.start({
      processes: options.processes,
      cpu: options.loadCpu,
      serverUrl: server.url,
      holdSeconds,
      repollDelayMs,
      joinConcurrency: 64,
      events: {
        joined: (u, startedAt, establishedAt) => population.joined(u, startedAt, establishedAt),
        joinFailed: (u, _startedAt, error) => population.joinFailed(u, error),
        left: (u, at, cursor) => population.left(u, at, cursor),
        received: (u, id, at) => ledger.received(u, id, at),
      },
    });
    const clients = pool;
    const bounded = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, clients.failure]);

    // Ramp: every client's first connection, 64 at a time per process.
    const rampStart = now();
    const first = await population.create(options.connections);
    population.joinOrders(first).forEach((orders, index) => {
      clients.join(index, orders);
    });
    const settled = (): boolean => population.onlineCount + population.counts.joinFailures >= options.connections;
    const rampProgress = (): void => log(`ramp: ${population.onlineCount} of ${options.connections} connected`);
    const ramped = await bounded(waitFor(settled, 300_000, 1000, rampProgress));
    if (!ramped) throw new Error(`ramp: only ${population.onlineCount} of ${options.connections} clients connected within 300 s`);
    const rampMs = now() - rampStart;
    log(`ramp: ${population.onlineCount} clients connected in ${(rampMs / 1000).toFixed(1)} s (${population.counts.joinFailures} failed)`);

    // Warm-up under the full load.
    const samples: Sample[] = [];
    const publisher = new Publisher({ serverUrl: server.url, rate: options.rate, maxInFlight }, ledger, population);
    const churn = new Churn(population, clients, options.connections, options.churnPerMinute);
    publisher.start();
    churn.start();
    const sampler = new Sampler(server, options.serverCpu, samples, now());
    await sampler.restart();
    sampler.start('warmup');
    await bounded(sleep(options.warmupSeconds * 1000));
    await sampler.stop();
    const afterWarmup = await server.memoryAfterGc();
    log(`warm-up: ${options.warmupSeconds} s; heap after GC ${mib(afterWarmup.heapUsed)}; ${population.onlineCount} online`);

    // Soak. The scrape right after the forced GC starts a fresh event-loop window, so the GC's pause is not in it.
    await sampler.restart();
    const soakStart = now();
    sampler.start('soak');
    const soakMs = options.minutes * 60_000;
    for (let elapsed = 0; elapsed < soakMs; elapsed = now() - soakStart) {
      await bounded(sleep(Math.min(60_000, soakMs - elapsed)));
      const held = samples[samples.length - 1];
      log(
        `soak: ${((now() - soakStart) / 60_000).toFixed(1)} of ${options.minutes} min; ${population.onlineCount} online` +
          (held ? `, ${held.open} open, heap ${mib(held.heapUsed)}, lag p99 ${held.lagP99Ms.toFixed(1)} ms` : ''),
      );
    }
    await bounded(churn.stop());
    await publisher.stop();
    // Joins the churn started finish before the heap is taken, so it is measured with every client settled.
    await bounded(waitFor(() => population.activeCount === population.onlineCount, 60_000, 50));
    await sleep(settleMs);
    await sampler.stop();
    const soakPhaseMs = now() - soakStart;
    const atEnd = await server.memoryAfterGc();
    log(`soak done: heap after GC ${mib(atEnd.heapUsed)} (after warm-up ${mib(afterWarmup.heapUsed)})`);

    // Everyone leaves; the server's counts must come back to zero.
    const leaveStart = now();
    population.allLeaving();
    clients.leaveAll();
    await bounded(waitFor(() => population.activeCount === 0, 60_000, 50));
    publisher.close();
    const leftOver = await waitForZero(server, 30_000);
    const afterLeave = await server.memoryAfterGc();
    const leaveMs = now() - leaveStart;
    const clientStats = await clients.stats();
    log(`all left in ${(leaveMs / 1000).toFixed(1)} s; heap after GC ${mib(afterLeave.heapUsed)}`);
    return {
      phasesMs: { ramp: rampMs, warmup: options.warmupSeconds * 1000, soak: soakPhaseMs, leave: leaveMs, total: now() - t0 },
      memory: { afterWarmup, atEnd, afterLeave },
      activeHandlesBefore,
      leftOver,
      samples,
      population,
      publisher,
      delivery: ledger.settle(population.users, graceMs),
      clients: clientStats,
    };
  } finally {
    await pool?.close();
    await server.stop();
  }
}

/** Waits until every held connection, hub entry and broker channel is gone; returns what is left then. */
async function waitForZero(server: SoakServer, timeoutMs: number): Promise<LeftOver> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const metrics = await server.metrics();
    const leftOver: LeftOver = {
      held: labelled(metrics, 'pns_held_connections', 'transport'),
      open: metrics.get('pns_open_connections') ?? Number.NaN,
      hubEntries: labelled(metrics, 'pns_hub_entries', 'kind'),
      brokerChannels: metrics.get('pns_broker_channels') ?? Number.NaN,
      activeHandles: metrics.get('nodejs_active_handles_total') ?? Number.NaN,
    };
    const zero =
      Object.values(leftOver.held).every((n) => n === 0) &&
      Object.values(leftOver.hubEntries).every((n) => n === 0) &&
      leftOver.brokerChannels === 0 &&
      leftOver.open <= driverConnections;
    if (zero || now() >= deadline) return leftOver;
    await sleep(250);
  }
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
