/**
 * The soak driver's side of its client processes (client-process.ts): `taskset -c <cpu> node
 * client-process.js` with an IPC channel each, started and spoken to as the bench's load generators are
 * (load-process.ts; pinnedCommand also raises the open-file limit to the hard limit). Every process has that limit
 * (20,000 here), so 10,000 clients need at least two; the driver spreads them evenly.
 */
import { fileURLToPath } from 'node:url';
import { withTimeout } from '../clock.js';
import { eachDelivery, LoadProcess } from '../load-process.js';
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

type ClientProcess = LoadProcess<ToClients, FromClients>;

export class ClientPool {
  private requests = 0;
  private readonly children: ClientProcess[];
  /** Rejects when a client process fails or exits: the driver races its phases against it. */
  readonly failure: Promise<never>;

  private constructor(options: ClientPoolOptions) {
    const { events } = options;
    this.children = Array.from(
      { length: options.processes },
      (_, index) =>
        new LoadProcess<ToClients, FromClients>(clientProcessPath, options.cpu, `client process ${index}`, (message) => {
          if (message.t === 'd') eachDelivery(message, events.received);
          else if (message.t === 'joined') events.joined(message.u, message.startedAt, message.establishedAt);
          else if (message.t === 'joinFailed') events.joinFailed(message.u, message.startedAt, message.error);
          else if (message.t === 'left') events.left(message.u, message.at, message.cursor);
        }),
    );
    this.failure = Promise.race(this.children.map((child) => child.failed));
    this.failure.catch(() => {});
  }

  static async start(options: ClientPoolOptions): Promise<ClientPool> {
    const pool = new ClientPool(options);
    try {
      await Promise.all(
        pool.children.map(async (child, index) => {
          const ready = child.next<'ready'>('ready');
          child.send({
            t: 'init',
            serverUrl: options.serverUrl,
            holdSeconds: options.holdSeconds,
            repollDelayMs: options.repollDelayMs,
            joinConcurrency: options.joinConcurrency,
          });
          const { cpus } = await withTimeout(Promise.race([ready, pool.failure]), 20_000, `client process ${index} start`);
          if (cpus !== String(options.cpu)) throw new Error(`client process ${index} runs on CPUs ${cpus}, not ${options.cpu}`);
        }),
      );
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
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
      this.children.map((child, index) => {
        const req = ++this.requests;
        const answer = child.next<'stats'>(`stats:${req}`);
        child.send({ t: 'stats', req });
        return withTimeout(Promise.race([answer, this.failure]), 20_000, `client process ${index} stats`);
      }),
    );
    const sum: ClientStats = { open: 0, joining: 0, cpuMs: 0, errors: {} };
    for (const stats of all) {
      sum.open += stats.open;
      sum.joining += stats.joining;
      sum.cpuMs += stats.cpuMs;
      for (const [kind, n] of Object.entries(stats.errors)) sum.errors[kind] = (sum.errors[kind] ?? 0) + n;
    }
    return sum;
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((child) => child.close({ t: 'close' }, 10_000)));
  }

  private send(index: number, message: ToClients): void {
    const child = this.children[index];
    if (!child) throw new Error(`no client process ${index}`);
    child.send(message);
  }
}
