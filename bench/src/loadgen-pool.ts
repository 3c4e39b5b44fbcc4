import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eachDelivery, LoadProcess } from './load-process.js';
import type { FromLoadGen, ToLoadGen } from './loadgen-protocol.js';
import type { Target } from './target.js';

/** Most subscribers one load-generator process opens (each has the same 20,000-descriptor limit). */
export const maxPerWorker = 15_000;

export interface PoolOptions {
  /** Only its subscriber module is used (the floors tool passes one that is not a registered target's). */
  target: Pick<Target, 'subscriberModule'>;
  serverUrl: string;
  holdSeconds: number;
  /** Subscribers the scenario will open at most: decides how many processes. */
  subscribers: number;
  /** CPU the load generators are pinned to. */
  cpu: number;
  /** Receives every delivery the load generators report. */
  sink(sub: number, id: string, at: number): void;
  /** Called with subscription progress (summed over processes) while subscribing. */
  onProgress?(subscribed: number, failed: number): void;
}

export interface SubscribeOutcome {
  subscribed: number;
  failed: number;
  failures: string[];
}

export interface PoolStats {
  /** CPU time of all load-generator processes since they started, ms. */
  cpuMs: number;
  open: number;
  errors: Record<string, number>;
}

const loadGenPath = fileURLToPath(new URL('./loadgen.js', import.meta.url));

/**
 * Connections one source address can safely have to one server port: three quarters of the
 * ephemeral port range (some ports stay in TIME_WAIT after a restart).
 */
function connectionsPerAddress(): number {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined && high > low) return Math.floor((high - low + 1) * 0.75);
  } catch {}
  return 20_000;
}

type Worker = LoadProcess<ToLoadGen, FromLoadGen>;

/**
 * The load-generator processes of one scenario run: `taskset -c <cpu> node
 * loadgen.js` with an IPC channel, ≤ 15,000 subscribers each, and, when the
 * subscribers outnumber one address's ephemeral ports, each with its own source
 * address (127.0.0.2, 127.0.0.3, …). Subscriber i lives in process floor(i / 15,000).
 */
export class LoadGenPool {
  private requests = 0;
  private readonly workers: Worker[];
  /** Each process's subscription progress, as it last reported it. */
  private readonly progress: { subscribed: number; failed: number }[];

  private constructor(private readonly options: PoolOptions) {
    const count = Math.max(1, Math.ceil(options.subscribers / maxPerWorker));
    this.progress = Array.from({ length: count }, () => ({ subscribed: 0, failed: 0 }));
    this.workers = this.progress.map(
      (_, index) =>
        new LoadProcess<ToLoadGen, FromLoadGen>(loadGenPath, options.cpu, 'load generator', (message) => {
          if (message.t === 'd') eachDelivery(message, options.sink);
          else if (message.t === 'progress') this.progress[index] = { subscribed: message.subscribed, failed: message.failed };
        }),
    );
  }

  static async start(options: PoolOptions): Promise<LoadGenPool> {
    const pool = new LoadGenPool(options);
    // Binding a source address makes the kernel search for a free port on every connect (slow with
    // thousands of sockets), so addresses are spread only when one address's ports do not suffice.
    const spreadAddresses = options.subscribers > connectionsPerAddress();
    try {
      await Promise.all(
        pool.workers.map(async (worker, index) => {
          const ready = worker.next<'ready'>('ready');
          worker.send({
            t: 'init',
            module: options.target.subscriberModule,
            serverUrl: options.serverUrl,
            holdSeconds: options.holdSeconds,
            ...(spreadAddresses ? { localAddress: `127.0.0.${2 + index}` } : {}),
          });
          const { cpus } = await ready;
          if (cpus !== String(options.cpu)) throw new Error(`load generator ${index} runs on CPUs ${cpus}, not ${options.cpu}`);
        }),
      );
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /** Opens subscribers from..to-1 (users u<from>…), with `topic` when given; resolves when all answered. */
  async subscribe(from: number, to: number, topic?: string, concurrency = 256): Promise<SubscribeOutcome> {
    const parts: Promise<SubscribeOutcome>[] = [];
    for (let index = 0; index < this.workers.length; index++) {
      const start = Math.max(from, index * maxPerWorker);
      const end = Math.min(to, (index + 1) * maxPerWorker);
      if (start >= end) continue;
      const worker = this.workers[index] as Worker;
      const done = worker.next<'subscribed'>('subscribed');
      worker.send({ t: 'subscribe', from: start, to: end, ...(topic ? { topic } : {}), concurrency });
      parts.push(done);
    }
    const ticker = setInterval(() => {
      const sum = this.progress.reduce((acc, p) => ({ s: acc.s + p.subscribed, f: acc.f + p.failed }), { s: 0, f: 0 });
      this.options.onProgress?.(sum.s, sum.f);
    }, 1000);
    try {
      const outcomes = await Promise.all(parts);
      return outcomes.reduce(
        (sum, outcome) => ({
          subscribed: sum.subscribed + outcome.subscribed,
          failed: sum.failed + outcome.failed,
          failures: [...sum.failures, ...outcome.failures].slice(0, 10),
        }),
        { subscribed: 0, failed: 0, failures: [] as string[] },
      );
    } finally {
      clearInterval(ticker);
    }
  }

  /** CPU and error counts of every process; every delivery reported before this has reached the sink. */
  async stats(): Promise<PoolStats> {
    const all = await Promise.all(
      this.workers.map((worker) => {
        const req = ++this.requests;
        const answer = worker.next<'stats'>(`stats:${req}`);
        worker.send({ t: 'stats', req });
        return answer;
      }),
    );
    const errors: Record<string, number> = {};
    for (const stats of all) for (const [kind, n] of Object.entries(stats.errors)) errors[kind] = (errors[kind] ?? 0) + n;
    return { cpuMs: all.reduce((sum, s) => sum + s.cpuMs, 0), open: all.reduce((sum, s) => sum + s.open, 0), errors };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close({ t: 'close' }, 5000)));
  }
}
