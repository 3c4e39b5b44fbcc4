/**
 * What the bench's load generators (loadgen.ts, loadgen-pool.ts) and the soak's client processes
 * (soak/client-process.ts, soak/client-pool.ts) share: the driver's handle on one such process, and in the
 * process, its delivery batches and its IPC loop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { now } from './clock.js';
import type { Deliveries, Fatal } from './loadgen-protocol.js';
import { pinnedCommand } from './pinned.js';
import type { BenchPayload } from './target.js';

/** A message from a process: `t` names its kind, and an answer to a request carries the request's `req`. */
interface Message {
  t: string;
  req?: number;
}

const isFatal = (message: Message): message is Fatal => message.t === 'fatal';

/**
 * One process seen from the driver: `taskset -c <cpu> node <script>` with an IPC channel. A message a
 * caller waits for (`next`) goes to it; any other goes to `onEvent`. It fails on `fatal` or on exiting.
 */
export class LoadProcess<To extends Message, From extends Message> {
  readonly child: ChildProcess;
  private readonly waiting = new Map<string, (message: From) => void>();
  private failure: Error | undefined;
  private fail: (error: Error) => void = () => {};
  /** Rejects once the process has failed or exited. */
  readonly failed = new Promise<never>((_, reject) => {
    this.fail = (error) => {
      if (this.failure) return;
      this.failure = error;
      reject(error);
    };
  });

  /** `name`: how errors call it, e.g. `load generator`. */
  constructor(
    script: string,
    cpu: number,
    private readonly name: string,
    private readonly onEvent: (message: From) => void,
  ) {
    this.failed.catch(() => {});
    const { command, args } = pinnedCommand(cpu, [process.execPath, '--enable-source-maps', script]);
    this.child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: From) => this.receive(message));
    this.child.once('exit', (code, signal) => this.fail(new Error(`${name} exited (${signal ?? code})`)));
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Throws once it has failed or its channel is closed (a send then would emit an unhandled 'error'). */
  send(message: To): void {
    if (this.failure) throw this.failure;
    if (!this.child.connected) throw new Error(`${this.name} is gone`);
    this.child.send(message);
  }

  /** The next message of kind `t` (for an answer, keyed `<t>:<req>`), or the process's failure. */
  next<T extends From['t']>(key: string): Promise<Extract<From, { t: T }>> {
    const answer = new Promise<Extract<From, { t: T }>>((resolve) => {
      this.waiting.set(key, resolve as (message: From) => void);
    });
    return Promise.race([answer, this.failed]);
  }

  /** Asks it to close (`close`: its close message), SIGKILL after `killAfterMs`; resolves once it has exited. */
  async close(close: To, killAfterMs: number): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const kill = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
    try {
      this.send(close);
    } catch {
      this.child.kill('SIGKILL');
    }
    await exited;
    clearTimeout(kill);
  }

  private receive(message: From): void {
    if (isFatal(message)) {
      this.fail(new Error(`${this.name} failed: ${message.message}`));
      return;
    }
    const key = message.req === undefined ? message.t : `${message.t}:${message.req}`;
    const resolve = this.waiting.get(key);
    if (!resolve) {
      this.onEvent(message);
      return;
    }
    this.waiting.delete(key);
    resolve(message);
  }
}

/** Hands every delivery of a batch to `sink`. */
export function eachDelivery(batch: Deliveries, sink: (sub: number, id: string, at: number) => void): void {
  for (let k = 0; k < batch.s.length; k++) sink(batch.s[k] as number, batch.i[k] as string, batch.a[k] as number);
}

/** In the process: deliveries go to `send` in batches, every `flushEveryMs` or once `flushAt` have gathered. */
export class DeliveryBatch {
  private batch: Deliveries = { s: [], i: [], a: [] };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (batch: Deliveries) => void,
    private readonly flushEveryMs: number,
    private readonly flushAt: number,
  ) {}

  /** A message subscriber `sub` received now. */
  record(sub: number, payload: BenchPayload): void {
    const batch = this.batch;
    batch.s.push(sub);
    batch.i.push(typeof payload?.id === 'string' ? payload.id : '?');
    batch.a.push(now());
    if (batch.s.length >= this.flushAt) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushEveryMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.s.length === 0) return;
    this.send(this.batch);
    this.batch = { s: [], i: [], a: [] };
  }
}

/** This process's CPU time (user + system) since it started, ms. */
export function ownCpuMs(): number {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
}

/**
 * In the process: hands every message from the driver to `handle`; what it throws or rejects with goes back
 * as `fatal`. The process exits when the driver goes. `script` names it in the error when run by hand.
 */
export function serveDriver<To>(script: string, handle: (message: To) => void | Promise<void>): void {
  if (!process.send) throw new Error(`${script} runs as a child process with an IPC channel`);
  const report = (error: unknown): void => {
    process.send?.({ t: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies Fatal);
  };
  process.on('message', (message: To) => {
    try {
      Promise.resolve(handle(message)).catch(report);
    } catch (error) {
      report(error);
    }
  });
  process.on('disconnect', () => process.exit(0));
}
