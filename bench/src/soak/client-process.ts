/**
 * A soak client process: the driver (client-pool.ts) spawns several, pinned to the load core, each with
 * an IPC channel. It opens and closes clients as told, on the bench's own pns clients: the long-poll
 * Poller (the seed client's rules: poll again 500 ms after an answer, always with the cursor) and the
 * SSE and WebSocket StreamSubscriber, a returning client resuming from the cursor it left with. It
 * reports every message received (user, id, time) in batches, and when each client joined and left.
 */
import { now } from '../clock.js';
import { DeliveryBatch, ownCpuMs, serveDriver } from '../load-process.js';
import { allowedCpus } from '../measure.js';
import type { BenchPayload } from '../target.js';
import { errorKind, type PnsClientSettings, type PnsSubscription } from '../targets/pns-client.js';
import { openSse } from '../targets/pns-sse-subscriber.js';
import { StreamSubscriber } from '../targets/pns-stream.js';
import { Poller } from '../targets/pns-subscriber.js';
import { openWs } from '../targets/pns-ws-subscriber.js';
import type { FromClients, JoinOrder, ToClients } from './client-protocol.js';

const flushEveryMs = 50;
const flushAt = 2048;

interface Client {
  close(): void;
  readonly position: string | undefined;
}

type Settings = Extract<ToClients, { t: 'init' }>;

class ClientHost {
  private settings: Settings | undefined;
  private clientSettings: PnsClientSettings | undefined;
  private readonly open = new Map<number, Client>();
  /** Clients whose first connection is under way; a leave-all closes them as soon as they are up. */
  private readonly joining = new Set<number>();
  private readonly queue: JoinOrder[] = [];
  private lanes = 0;
  private leavingAll = false;
  private readonly errors = new Map<string, number>();
  private readonly deliveries = new DeliveryBatch((batch) => send({ t: 'd', ...batch }), flushEveryMs, flushAt);

  handle(message: ToClients): void {
    switch (message.t) {
      case 'init':
        this.settings = message;
        this.clientSettings = {
          holdSeconds: message.holdSeconds,
          localAddress: undefined,
          reportError: (kind) => this.countError(kind),
        };
        send({ t: 'ready', cpus: allowedCpus('self') });
        return;
      case 'join':
        this.leavingAll = false;
        this.queue.push(...message.clients);
        this.startLanes();
        return;
      case 'leave':
        for (const u of message.users) this.leave(u);
        return;
      case 'leaveAll':
        this.leavingAll = true;
        this.queue.length = 0;
        for (const u of [...this.open.keys()]) this.leave(u);
        return;
      case 'stats':
        this.deliveries.flush();
        send({
          t: 'stats',
          req: message.req,
          open: this.open.size,
          joining: this.joining.size + this.queue.length,
          cpuMs: ownCpuMs(),
          errors: Object.fromEntries(this.errors),
        });
        return;
      case 'close':
        for (const client of this.open.values()) client.close();
        this.open.clear();
        this.deliveries.flush();
        process.send?.({ t: 'closed' } satisfies FromClients, () => process.exit(0));
        return;
    }
  }

  /** Opens queued clients, at most `joinConcurrency` first connections at a time. */
  private startLanes(): void {
    const limit = this.settings?.joinConcurrency ?? 1;
    while (this.lanes < limit && this.queue.length > 0) {
      this.lanes++;
      this.lane().finally(() => {
        this.lanes--;
        this.startLanes();
      });
    }
  }

  private async lane(): Promise<void> {
    for (let order = this.queue.shift(); order; order = this.queue.shift()) {
      const startedAt = now();
      this.joining.add(order.u);
      try {
        const client = await this.connect(order);
        this.joining.delete(order.u);
        this.open.set(order.u, client);
        send({ t: 'joined', u: order.u, startedAt, establishedAt: now() });
        if (this.leavingAll) this.leave(order.u);
      } catch (error) {
        this.joining.delete(order.u);
        this.countError('join');
        send({ t: 'joinFailed', u: order.u, startedAt, error: errorKind(error as Error) });
      }
    }
  }

  /** Resolves once the server holds the client's position: a message published after that is owed to it. */
  private async connect(order: JoinOrder): Promise<Client> {
    const settings = this.settings;
    const clientSettings = this.clientSettings;
    if (!settings || !clientSettings) throw new Error('join before init');
    const subscription: PnsSubscription = {
      server: new URL(settings.serverUrl),
      query: `sid=${order.sid}`,
      settings: clientSettings,
      onMessage: (payload: BenchPayload) => this.deliveries.record(order.u, payload),
    };
    if (order.transport === 'longpoll') {
      const poller = new Poller(subscription, {
        repollDelayMs: settings.repollDelayMs,
        ...(order.cursor ? { cursor: order.cursor } : {}),
      });
      await poller.start();
      return poller;
    }
    const stream = new StreamSubscriber(order.transport === 'sse' ? openSse : openWs, subscription, order.cursor);
    await stream.start();
    return stream;
  }

  private leave(u: number): void {
    const client = this.open.get(u);
    if (!client) return;
    client.close();
    this.open.delete(u);
    // Read right after close: nothing received from now on moves it (the clients drop what comes after close).
    const cursor = client.position;
    // Receipts before the leave reach the driver first (IPC keeps order).
    this.deliveries.flush();
    send({ t: 'left', u, at: now(), cursor });
  }

  private countError(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }
}

function send(message: FromClients): void {
  process.send?.(message);
}

const host = new ClientHost();
serveDriver('client-process.js (see client-pool.ts)', (message: ToClients) => host.handle(message));
