import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FromLoadGen, ToLoadGen } from './loadgen-protocol.js';
import { pinnedCommand } from './pinned.js';
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

/** One load-generator process, seen from the driver. */
class Worker {
  private readonly waiting = new Map<string, (message: FromLoadGen) => void>();
  private failure: Error | undefined;
  private failed: (error: Error) => void = () => {};
  readonly failedPromise = new Promise<never>((_, reject) => {
    this.failed = reject;
  });
  progress = { subscribed: 0, failed: 0 };

  constructor(
    readonly child: ChildProcess,
    private readonly options: PoolOptions,
  ) {
    this.failedPromise.catch(() => {});
    child.on('message', (message: FromLoadGen) => this.receive(message));
    child.once('exit', (code, signal) => this.fail(new Error(`load generator exited (${signal ?? code})`)));
  }

  send(message: ToLoadGen): void {
    if (this.failure) throw this.failure;
    this.child.send(message);
  }

  /** The next message of kind `t` (or, for stats, with `req`). */
  next<T extends FromLoadGen['t']>(key: string): Promise<Extract<FromLoadGen, { t: T }>> {
    const answer = new Promise<Extract<FromLoadGen, { t: T }>>((resolve) => {
      this.waiting.set(key, resolve as (message: FromLoadGen) => void);
    });
    return Promise.race([answer, this.failedPromise]);
  }

  private receive(message: FromLoadGen): void {
    if (message.t === 'd') {
      for (let k = 0; k < message.s.length; k++) this.options.sink(message.s[k] as number, message.i[k] as string, message.a[k] as number);
      return;
    }
    if (message.t === 'fatal') {
      this.fail(new Error(`load generator failed: ${message.message}`));
      return;
    }
    if (message.t === 'progress') {
      this.progress = { subscribed: message.subscribed, failed: message.failed };
      return;
    }
    const key = message.t === 'stats' ? `stats:${message.req}` : message.t;
    const resolve = this.waiting.get(key);
    this.waiting.delete(key);
    resolve?.(message);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.failed(error);
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }
}

/**
 * The load-generator processes of one scenario run: `taskset -c <cpu> node
 * loadgen.js` with an IPC channel, ≤ 15,000 subscribers each, and, when the
 * subscribers outnumber one address's ephemeral ports, each with its own source
 * address (127.0.0.2, 127.0.0.3, …). Subscriber i lives in process floor(i / 15,000).
 */
export class LoadGenPool {
  private requests = 0;

  private constructor(
    private readonly workers: Worker[],
    private readonly options: PoolOptions,
  ) {}

  static async start(options: PoolOptions): Promise<LoadGenPool> {
    const count = Math.max(1, Math.ceil(options.subscribers / maxPerWorker));
    const workers = Array.from({ length: count }, () => {
      const { command, args } = pinnedCommand(options.cpu, [process.execPath, '--enable-source-maps', loadGenPath]);
      const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      return new Worker(child, options);
    });
    const pool = new LoadGenPool(workers, options);
    // Binding a source address makes the kernel search for a free port on every connect (slow with
    // thousands of sockets), so addresses are spread only when one address's ports do not suffice.
    const spreadAddresses = options.subscribers > connectionsPerAddress();
    try {
      await Promise.all(
        workers.map(async (worker, index) => {
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
      const sum = this.workers.reduce((acc, w) => ({ s: acc.s + w.progress.subscribed, f: acc.f + w.progress.failed }), { s: 0, f: 0 });
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
    await Promise.all(
      this.workers.map(async (worker) => {
        if (worker.exited) return;
        const exited = new Promise<void>((resolve) => worker.child.once('exit', () => resolve()));
        const kill = setTimeout(() => worker.child.kill('SIGKILL'), 5000);
        try {
          worker.send({ t: 'close' });
        } catch {
          worker.child.kill('SIGKILL');
        }
        await exited;
        clearTimeout(kill);
      }),
    );
  }
}
