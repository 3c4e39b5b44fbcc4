/**
 * A load-generator process: the driver spawns it pinned to the load core
 * (taskset) with an IPC channel. It loads one target's subscriber module,
 * opens the subscribers it is told, and reports deliveries (subscriber,
 * id, receive time) in batches, its subscription counts and its own CPU use.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DeliveryBatch, ownCpuMs, serveDriver } from './load-process.js';
import { type FromLoadGen, type ToLoadGen, userOf } from './loadgen-protocol.js';
import { allowedCpus } from './measure.js';
import type { BenchPayload, SubscriberFactory } from './target.js';

const flushEvery = 20;
const flushAt = 4096;

class LoadGen {
  private factory: SubscriberFactory | undefined;
  private serverUrl = '';
  private readonly open = new Map<number, { close(): void }>();
  private readonly errors = new Map<string, number>();
  private readonly deliveries = new DeliveryBatch((batch) => send({ t: 'd', ...batch }), flushEvery, flushAt);

  async handle(message: ToLoadGen): Promise<void> {
    switch (message.t) {
      case 'init':
        return this.init(message);
      case 'subscribe':
        return this.subscribe(message.from, message.to, message.topic, message.concurrency);
      case 'stats':
        this.deliveries.flush();
        send({ t: 'stats', req: message.req, cpuMs: ownCpuMs(), open: this.open.size, errors: Object.fromEntries(this.errors) });
        return;
      case 'close':
        for (const subscriber of this.open.values()) subscriber.close();
        this.open.clear();
        this.deliveries.flush();
        process.send?.({ t: 'closed' } satisfies FromLoadGen, () => process.exit(0));
        return;
    }
  }

  private async init(message: Extract<ToLoadGen, { t: 'init' }>): Promise<void> {
    const loaded = (await import(subscriberModuleUrl(message.module))) as { factory?: SubscriberFactory };
    if (!loaded.factory) throw new Error(`${message.module} exports no \`factory\``);
    this.factory = loaded.factory;
    this.serverUrl = message.serverUrl;
    await this.factory.init?.({
      holdSeconds: message.holdSeconds,
      ...(message.localAddress ? { localAddress: message.localAddress } : {}),
      reportError: (kind) => this.countError(kind),
    });
    send({ t: 'ready', cpus: allowedCpus('self') });
  }

  private async subscribe(from: number, to: number, topic: string | undefined, concurrency: number): Promise<void> {
    const factory = this.factory;
    if (!factory) throw new Error('subscribe before init');
    let next = from;
    let subscribed = 0;
    let failed = 0;
    const failures: string[] = [];
    const progress = setInterval(() => send({ t: 'progress', subscribed, failed }), 500);
    const lane = async (): Promise<void> => {
      while (next < to) {
        const index = next++;
        try {
          const onMessage = (payload: BenchPayload): void => this.deliveries.record(index, payload);
          this.open.set(index, await factory.subscribe(this.serverUrl, userOf(index), topic, onMessage));
          subscribed++;
        } catch (error) {
          failed++;
          this.countError('subscribe');
          if (failures.length < 5) failures.push(`${userOf(index)}: ${(error as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
    clearInterval(progress);
    send({ t: 'subscribed', subscribed, failed, failures });
  }

  private countError(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }
}

/**
 * A target's `subscriberModule` is relative to bench/dist/src (where target.js is), e.g.
 * `./targets/pns-subscriber.js`; a path that is not found there is looked up in targets/.
 */
function subscriberModuleUrl(module: string): string {
  const fromSrc = new URL(module, import.meta.url);
  return existsSync(fileURLToPath(fromSrc)) ? fromSrc.href : new URL(module, new URL('./targets/', import.meta.url)).href;
}

function send(message: FromLoadGen): void {
  process.send?.(message);
}

const loadGen = new LoadGen();
serveDriver('loadgen.js (see loadgen-pool.ts)', (message: ToLoadGen) => loadGen.handle(message));
