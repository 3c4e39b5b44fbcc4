// `pns serve --workers N`: N processes share one port, so a machine's capacity is not capped by one
// process's event loop or its open-file limit. The primary only supervises; the workers serve.
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import { type Logger, pino } from 'pino';
import type { ServerConfig } from '../config/options.js';

/** What the primary decides once for every worker, in the environment of each fork. */
const poolEnv = 'PNS_POOL_WORKER';
interface PoolSettings {
  /** 1..N: which worker this is, stable across restarts. */
  slot: number;
  port: number;
  /** Dev mode only: the keys the primary generated, so every worker accepts the same tokens. */
  secret?: string;
  publishKey?: string;
}
interface ListeningMessage {
  pns: 'listening';
  url: string;
}

// Restart backoff: a worker that crashes at start waits 1 s, 2 s, 4 s … 30 s; one that ran 60 s starts over at 1 s.
const firstRestartMs = 1000;
const maxRestartMs = 30_000;
const stableAfterMs = 60_000;
/** After the drain window, how long workers get to close before they are killed. */
const stopGraceMs = 10_000;

interface Slot {
  worker: Worker | undefined;
  startedAt: number;
  restartMs: number;
  restarts: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The primary: forks `config.workers` workers and resolves with the URL once every one of them listens,
 * after logging the one `pns listening` line. Restarts workers that die; SIGTERM/SIGINT stop them all.
 * A worker that dies before the pool is ready stops the pool (exit 1), as a failed start of one process does.
 */
export async function runWorkerPool(config: ServerConfig): Promise<string> {
  const logger = pino({ level: config.logLevel, base: { service: 'pns', pid: process.pid } });
  // Round robin (Node's default except on Windows; set so NODE_CLUSTER_SCHED_POLICY cannot change it): the
  // primary accepts and hands connections to the workers in turn. With SCHED_NONE, Linux wakes whichever
  // worker is already waiting in accept, which piles most connections on a few workers: held polls would hit
  // one worker's open-file limit while the others idle.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  // Port 0: workers listening on 0 share one port only while one of them holds it; a worker restarted after
  // all died would get another. So the primary picks the port once and every worker binds that one.
  const port = config.port === 0 ? await freePort(config.host) : config.port;
  const shared: Omit<PoolSettings, 'slot'> = config.devMode ? { port, secret: config.secret, publishKey: config.publishKey } : { port };
  const slots: Slot[] = Array.from({ length: config.workers }, () => ({
    worker: undefined,
    startedAt: 0,
    restartMs: firstRestartMs,
    restarts: 0,
    timer: undefined,
  }));
  const listened = new Set<number>();
  let url: string | undefined;
  let stopping = false;
  let exitCode = 0;
  let killTimer: NodeJS.Timeout | undefined;

  const finishStop = (): void => {
    if (slots.some((slot) => slot.worker !== undefined)) return;
    clearTimeout(killTimer);
    logger.info('stopped');
    process.exit(exitCode);
  };
  const stop = (reason: Record<string, unknown>, code: number): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const slot of slots) clearTimeout(slot.timer);
    const live = slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
    logger.info({ ...reason, workers: live.length }, 'shutting down');
    // Each worker drains its held polls over PNS_DRAIN_SECONDS, as a single process does on SIGTERM.
    for (const worker of live) worker.process.kill('SIGTERM');
    killTimer = setTimeout(
      () => {
        exitCode = 1;
        for (const slot of slots) {
          if (!slot.worker) continue;
          logger.error({ workerPid: slot.worker.process.pid }, 'worker did not stop in time: killed');
          slot.worker.process.kill('SIGKILL');
        }
      },
      config.drainSeconds * 1000 + stopGraceMs,
    );
    finishStop();
  };

  return new Promise<string>((resolve) => {
    const fork = (index: number): void => {
      const slot = slots[index] as Slot;
      const settings: PoolSettings = { slot: index + 1, ...shared };
      const worker = cluster.fork({ [poolEnv]: JSON.stringify(settings) });
      slot.worker = worker;
      slot.startedAt = Date.now();
      slot.timer = undefined;
      worker.on('message', (message: unknown) => {
        if (!isListening(message) || url !== undefined || listened.has(index)) return;
        listened.add(index);
        if (listened.size < slots.length) return;
        url = message.url;
        logger.info(
          { url, workers: slots.length, devMode: config.devMode, maxConnectionsPerWorker: config.maxConnections },
          'pns listening',
        );
        resolve(url);
      });
      worker.on('exit', (code, signal) => {
        slot.worker = undefined;
        const died = { worker: index + 1, workerPid: worker.process.pid, code, signal };
        if (stopping) return finishStop();
        if (url === undefined) {
          logger.error(died, 'worker exited before the pool was ready');
          return stop({ reason: 'a worker failed to start' }, 1);
        }
        if (Date.now() - slot.startedAt >= stableAfterMs) slot.restartMs = firstRestartMs;
        slot.restarts++;
        logger.error({ ...died, restartInMs: slot.restartMs, restarts: slot.restarts }, 'worker exited; restarting it');
        slot.timer = setTimeout(() => fork(index), slot.restartMs);
        slot.restartMs = Math.min(slot.restartMs * 2, maxRestartMs);
      });
    };
    process.once('SIGTERM', () => stop({ signal: 'SIGTERM' }, 0));
    process.once('SIGINT', () => stop({ signal: 'SIGINT' }, 0));
    for (let index = 0; index < slots.length; index++) fork(index);
  });
}

function isListening(message: unknown): message is ListeningMessage {
  return typeof message === 'object' && message !== null && (message as ListeningMessage).pns === 'listening';
}

/** A port that is free now on `host` (the OS picks it). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host }, () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface PoolWorker {
  /** The worker's settings: the pool's port and, in dev mode, the primary's keys. */
  config: ServerConfig;
  /** Log lines name the worker (1..N) and its pid. */
  logger: Logger;
  /** Tells the primary this worker serves. Logged as `worker listening`, never `pns listening`: that line is the pool's. */
  listening(url: string): void;
  /** A worker that cannot start exits: its IPC channel would otherwise keep it alive doing nothing. */
  failed(error: unknown): never;
}

/** In a worker of the pool (`cluster.isWorker`). */
export function poolWorker(config: ServerConfig, env: NodeJS.ProcessEnv): PoolWorker {
  const settings = JSON.parse(env[poolEnv] ?? '{}') as Partial<PoolSettings>;
  const logger = pino({ level: config.logLevel, base: { service: 'pns', pid: process.pid, worker: settings.slot } });
  return {
    config: {
      ...config,
      port: settings.port ?? config.port,
      // Dev mode: the keys the primary generated and printed, instead of the worker's own.
      ...(settings.secret === undefined ? {} : { secret: settings.secret, secrets: [settings.secret] }),
      ...(settings.publishKey === undefined ? {} : { publishKey: settings.publishKey, publishKeys: [settings.publishKey] }),
    },
    logger,
    listening(url) {
      logger.info({ maxConnections: config.maxConnections }, 'worker listening');
      process.send?.({ pns: 'listening', url } satisfies ListeningMessage);
    },
    failed(error) {
      logger.fatal({ err: error }, 'worker failed to start');
      process.exit(1);
    },
  };
}
