/**
 * The soak driver's side of its client processes (client-process.ts): `taskset -c <cpu> node
 * client-process.js` with an IPC channel each, as the bench's load generators are started
 * (pinnedCommand, which also raises the open-file limit to the hard limit). Every process has that limit
 * (20,000 here), so 10,000 clients need at least two; the driver spreads them evenly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout } from '../clock.js';
import { pinnedCommand } from '../pinned.js';
import type { FromClients, JoinOrder, ToClients } from './client-protocol.js';

const clientProcessPath = fileURLToPath(new URL('./client-process.js', import.meta.url));

/** What the client processes report, as it arrives. */
export interface ClientEvents {
  joined(u: number, startedAt: number, establishedAt: number): void;
  joinFailed(u: number, startedAt: number, error: string): void;
  left(u: number, at: number, cursor: string | undefined): void;
  received(u: number, id: string, at: number): void;
}

export interface ClientPoolOptions {
  processes: number;
  cpu: number;
  serverUrl: string;
  holdSeconds: number;
  repollDelayMs: number;
  /** First connections under way at once, per process. */
  joinConcurrency: number;
  events: ClientEvents;
}

export interface ClientStats {
  open: number;
  joining: number;
  cpuMs: number;
  errors: Record<string, number>;
}

export class ClientPool {
  private requests = 0;
  private readonly waiting = new Map<string, (message: FromClients) => void>();
  private rejectFailure: (error: Error) => void = () => {};
  /** Rejects when a client process fails or exits: the driver races its phases against it. */
  readonly failure = new Promise<never>((_, reject) => {
    this.rejectFailure = reject;
  });
  private closing = false;

  private constructor(
    private readonly children: ChildProcess[],
    private readonly events: ClientEvents,
  ) {
    this.failure.catch(() => {});
    children.forEach((child, index) => {
      child.on('message', (message: FromClients) => this.receive(index, message));
      child.once('exit', (code, signal) => {
        if (!this.closing) this.rejectFailure(new Error(`client process ${index} exited (${signal ?? code})`));
      });
    });
  }

  static async start(options: ClientPoolOptions): Promise<ClientPool> {
    const children = Array.from({ length: options.processes }, () => {
      const { command, args } = pinnedCommand(options.cpu, [process.execPath, '--enable-source-maps', clientProcessPath]);
      return spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    });
    const pool = new ClientPool(children, options.events);
    try {
      await Promise.all(
        children.map(async (child, index) => {
          const ready = pool.next(index, 'ready');
          child.send({
            t: 'init',
            serverUrl: options.serverUrl,
            holdSeconds: options.holdSeconds,
            repollDelayMs: options.repollDelayMs,
            joinConcurrency: options.joinConcurrency,
          } satisfies ToClients);
          const message = await withTimeout(Promise.race([ready, pool.failure]), 20_000, `client process ${index} start`);
          const cpus = message.t === 'ready' ? message.cpus : undefined;
          if (cpus !== String(options.cpu)) throw new Error(`client process ${index} runs on CPUs ${cpus}, not ${options.cpu}`);
        }),
      );
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get processes(): number {
    return this.children.length;
  }

  join(index: number, clients: JoinOrder[]): void {
    if (clients.length > 0) this.send(index, { t: 'join', clients });
  }

  leave(index: number, users: number[]): void {
    if (users.length > 0) this.send(index, { t: 'leave', users });
  }

  leaveAll(): void {
    for (let index = 0; index < this.children.length; index++) this.send(index, { t: 'leaveAll' });
  }

  /** Summed over the processes; every receipt reported before it has reached `events.received`. */
  async stats(): Promise<ClientStats> {
    const all = await Promise.all(
      this.children.map((_, index) => {
        const req = ++this.requests;
        const answer = this.next(index, `stats:${req}`);
        this.send(index, { t: 'stats', req });
        return withTimeout(Promise.race([answer, this.failure]), 20_000, `client process ${index} stats`);
      }),
    );
    const sum: ClientStats = { open: 0, joining: 0, cpuMs: 0, errors: {} };
    for (const stats of all) {
      if (stats.t !== 'stats') continue;
      sum.open += stats.open;
      sum.joining += stats.joining;
      sum.cpuMs += stats.cpuMs;
      for (const [kind, n] of Object.entries(stats.errors)) sum.errors[kind] = (sum.errors[kind] ?? 0) + n;
    }
    return sum;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        try {
          child.send({ t: 'close' } satisfies ToClients);
        } catch {
          child.kill('SIGKILL');
        }
        await exited;
        clearTimeout(kill);
      }),
    );
  }

  private send(index: number, message: ToClients): void {
    const child = this.children[index];
    if (!child?.connected) throw new Error(`client process ${index} is gone`);
    child.send(message);
  }

  private next(index: number, key: string): Promise<FromClients> {
    return new Promise((resolve) => this.waiting.set(`${index}:${key}`, resolve));
  }

  private receive(index: number, message: FromClients): void {
    switch (message.t) {
      case 'd':
        for (let k = 0; k < message.u.length; k++)
          this.events.received(message.u[k] as number, message.i[k] as string, message.a[k] as number);
        return;
      case 'joined':
        this.events.joined(message.u, message.startedAt, message.establishedAt);
        return;
      case 'joinFailed':
        this.events.joinFailed(message.u, message.startedAt, message.error);
        return;
      case 'left':
        this.events.left(message.u, message.at, message.cursor);
        return;
      case 'fatal':
        this.rejectFailure(new Error(`client process ${index} failed: ${message.message}`));
        return;
      default: {
        const key = `${index}:${message.t === 'stats' ? `stats:${message.req}` : message.t}`;
        this.waiting.get(key)?.(message);
        this.waiting.delete(key);
      }
    }
  }
}
