/**
 * A load-generator process: the driver spawns it pinned to the load core
 * (taskset) with an IPC channel. It loads one target's subscriber module,
 * opens the subscribers it is told, and reports deliveries (subscriber,
 * id, receive time) in batches, its subscription counts and its own CPU use.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { now } from './clock.js';
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
  private batch: { s: number[]; i: string[]; a: number[] } = { s: [], i: [], a: [] };
  private flushTimer: NodeJS.Timeout | undefined;

  async handle(message: ToLoadGen): Promise<void> {
    switch (message.t) {
      case 'init':
        return this.init(message);
      case 'subscribe':
        return this.subscribe(message.from, message.to, message.topic, message.concurrency);
      case 'stats': {
        this.flush();
        const cpu = process.cpuUsage();
        send({
          t: 'stats',
          req: message.req,
          cpuMs: (cpu.user + cpu.system) / 1000,
          open: this.open.size,
          errors: Object.fromEntries(this.errors),
        });
        return;
      }
      case 'close':
        for (const subscriber of this.open.values()) subscriber.close();
        this.open.clear();
        this.flush();
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
          const onMessage = (payload: BenchPayload): void => this.record(index, payload);
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

  private record(index: number, payload: BenchPayload): void {
    const batch = this.batch;
    batch.s.push(index);
    batch.i.push(typeof payload?.id === 'string' ? payload.id : '?');
    batch.a.push(now());
    if (batch.s.length >= flushAt) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), flushEvery);
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.batch.s.length === 0) return;
    send({ t: 'd', ...this.batch });
    this.batch = { s: [], i: [], a: [] };
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

function main(): void {
  if (!process.send) throw new Error('loadgen.js runs as a child process with an IPC channel (see loadgen-pool.ts)');
  const loadGen = new LoadGen();
  process.on('message', (message: ToLoadGen) => {
    loadGen.handle(message).catch((error: unknown) => {
      send({ t: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    });
  });
  process.on('disconnect', () => process.exit(0));
}

main();
