/**
 * The soak test's server: the real `pns serve` (memory broker) started by the bench's startPns, with
 * `--expose-gc` and the gc preload (gc-preload.ts) on an IPC channel, and what the driver reads from it:
 * the heap after a forced collection, and /metrics.
 */
import http from 'node:http';
import { withTimeout } from '../clock.js';
import { okBody, type PnsServer, startPns } from '../targets/pns.js';
import type { GcRequest, MemoryAnswer } from './server-protocol.js';

const preloadUrl = new URL('./gc-preload.js', import.meta.url).href;

export interface SoakServerOptions {
  cpu: number;
  /** The clients' hold, and the server's default and longest hold, seconds. */
  holdSeconds: number;
  /** Every message's ttl and the longest one allowed, seconds: what a returning client may find again. */
  ttlSeconds: number;
}

/** One scrape of /metrics: every series by its name and labels as written (`name{a="b"}`). */
export class MetricsSnapshot {
  constructor(private readonly series: ReadonlyMap<string, number>) {}

  static parse(text: string): MetricsSnapshot {
    const series = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const space = line.lastIndexOf(' ');
      const value = Number(line.slice(space + 1));
      if (space > 0 && Number.isFinite(value)) series.set(line.slice(0, space), value);
    }
    return new MetricsSnapshot(series);
  }

  /** One series' value (`name` or `name{labels}` exactly as pns writes it), or undefined. */
  get(key: string): number | undefined {
    return this.series.get(key);
  }

  /** Every series of a metric, by its labels (`{transport="sse"}`, or '' without labels). */
  family(name: string): Map<string, number> {
    const found = new Map<string, number>();
    for (const [key, value] of this.series) {
      if (key === name || key.startsWith(`${name}{`)) found.set(key.slice(name.length), value);
    }
    return found;
  }
}

export class SoakServer {
  private requests = 0;
  private readonly waiting = new Map<number, (memory: NodeJS.MemoryUsage) => void>();

  private constructor(private readonly pns: PnsServer) {
    pns.child.on('message', (message: MemoryAnswer) => {
      if (message?.soak !== 'memory') return;
      this.waiting.get(message.req)?.(message.memory);
      this.waiting.delete(message.req);
    });
  }

  static async start(options: SoakServerOptions): Promise<SoakServer> {
    const ttl = String(options.ttlSeconds);
    const pns = await startPns(
      { cpu: options.cpu, holdSeconds: options.holdSeconds },
      // Room for every client and the churn's reconnects in one process (its open-file limit is 20,000);
      // messages live for the ttl only, so the retained set is steady once the warm-up has lasted that long.
      ['--max-connections', '19000', '--ttl-seconds', ttl, '--retention-seconds', ttl],
      { nodeArgs: ['--expose-gc', '--import', preloadUrl], ipc: true },
    );
    return new SoakServer(pns);
  }

  get url(): string {
    return this.pns.url;
  }

  get pid(): number {
    return this.pns.child.pid as number;
  }

  /** process.memoryUsage() of the server right after two forced full collections. */
  memoryAfterGc(): Promise<NodeJS.MemoryUsage> {
    const req = ++this.requests;
    const answer = new Promise<NodeJS.MemoryUsage>((resolve) => this.waiting.set(req, resolve));
    this.pns.child.send({ soak: 'gc', req } satisfies GcRequest);
    return withTimeout(answer, 30_000, 'the server’s forced GC (is the preload loaded?)');
  }

  /** Scrapes /metrics on a connection of its own, closed after it, so the scrape leaves no socket open. */
  metrics(): Promise<MetricsSnapshot> {
    return withTimeout(
      new Promise((resolve, reject) => {
        const request = http.get(`${this.url}/metrics`, { agent: false }, (response) =>
          okBody(response, '/metrics').then((text) => resolve(MetricsSnapshot.parse(text)), reject),
        );
        request.on('error', reject);
      }),
      10_000,
      '/metrics',
    );
  }

  stop(): Promise<void> {
    return this.pns.stop();
  }
}
