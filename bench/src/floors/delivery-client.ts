/**
 * The delivery floor's load client, one process pinned to the load core (started by delivery.ts with an
 * IPC channel): subscribers that re-poll as soon as each answer comes (the bench's pns subscriber: cursor,
 * longest hold), publishers that keep a fixed number of one-message publish requests in flight to random
 * users, first for a warm-up, then for the measured window. It tracks every measured message by number
 * (who it was for, whether it was acknowledged, whether it arrived) and reads the server's CPU itself at
 * the window's edges. Sends one `result` (or `fatal`) message, then exits; exits too when the tool goes.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { now, sleep, waitFor, withTimeout } from '../clock.js';
import { allowedCpus, ProcessMeter } from '../measure.js';
import type { BenchPayload } from '../target.js';
import { pnsPublishKey } from '../targets/pns-config.js';
import { factory } from '../targets/pns-subscriber.js';

export interface DeliveryResult {
  t: 'result';
  cpus: string | undefined;
  /** Measured messages whose publish was acknowledged; each is owed to one subscriber exactly once. */
  published: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Delivered to a subscriber it was not addressed to. */
  misrouted: number;
  publishFailures: number;
  firstFailures: string[];
  /** From the window's start to the last acknowledged publish, and to the moment all were delivered (or the drain gave up). */
  publishMs: number;
  windowMs: number;
  serverCpuMs: number;
  clientCpuMs: number;
  /** Failures the subscribers recovered from, by kind. */
  errors: Record<string, number>;
}

export type FromDeliveryClient = DeliveryResult | { t: 'fatal'; message: string };

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    'server-pid': { type: 'string' },
    subscribers: { type: 'string', default: '1000' },
    publishers: { type: 'string', default: '32' },
    'warmup-ms': { type: 'string', default: '3000' },
    'measure-ms': { type: 'string', default: '10000' },
    hold: { type: 'string', default: '3600' },
    'drain-timeout-ms': { type: 'string', default: '10000' },
  },
});
const url = new URL(values.url ?? 'http://127.0.0.1:0');
const serverPid = Number(values['server-pid']);
const subscribers = Number(values.subscribers);
const publishers = Number(values.publishers);
const subscribeTimeoutMs = 30_000;
const publishTimeoutMs = 10_000;

/** Measured messages, numbered from 0: addressee, acknowledged, received. Grows by doubling. */
class Tally {
  count = 0;
  acked = 0;
  delivered = 0;
  duplicated = 0;
  misrouted = 0;
  private to = new Int32Array(1 << 16);
  private ack = new Uint8Array(1 << 16);
  private seen = new Uint8Array(1 << 16);

  add(sub: number): number {
    if (this.count === this.to.length) {
      const grow = <T extends Int32Array | Uint8Array>(from: T, make: (n: number) => T): T => {
        const next = make(from.length * 2);
        next.set(from);
        return next;
      };
      this.to = grow(this.to, (n) => new Int32Array(n));
      this.ack = grow(this.ack, (n) => new Uint8Array(n));
      this.seen = grow(this.seen, (n) => new Uint8Array(n));
    }
    this.to[this.count] = sub;
    return this.count++;
  }

  acknowledge(n: number): void {
    this.ack[n] = 1;
    this.acked++;
  }

  receive(sub: number, id: string): void {
    if (!id.startsWith('m')) return;
    const n = Number(id.slice(1));
    if (!(n >= 0 && n < this.count) || this.to[n] !== sub) this.misrouted++;
    else if (this.seen[n]) this.duplicated++;
    else {
      this.seen[n] = 1;
      this.delivered++;
    }
  }

  /** Acknowledged and not (yet) received. */
  get lost(): number {
    let lost = 0;
    for (let n = 0; n < this.count; n++) if (this.ack[n] && !this.seen[n]) lost++;
    return lost;
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: publishers });

function publish(sub: number, payload: BenchPayload): Promise<void> {
  const body = `{"to":"user:u${sub}","type":"bench","data":${JSON.stringify(payload)}}`;
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        method: 'POST',
        hostname: url.hostname,
        port: url.port,
        path: '/pns/publish',
        headers: {
          authorization: `Bearer ${pnsPublishKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        timeout: publishTimeoutMs,
      },
      (response) => {
        response.resume();
        response.on('error', reject);
        response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`publish: HTTP ${response.statusCode}`))));
      },
    );
    request.on('timeout', () => request.destroy(new Error('publish: timeout')));
    request.on('error', reject);
    request.end(body);
  });
}

async function run(): Promise<DeliveryResult> {
  const meter = new ProcessMeter();
  const tally = new Tally();
  const errors = new Map<string, number>();
  await factory.init?.({ holdSeconds: Number(values.hold), reportError: (kind) => errors.set(kind, (errors.get(kind) ?? 0) + 1) });
  let next = 0;
  const open: { close(): void }[] = [];
  const lane = async (): Promise<void> => {
    while (next < subscribers) {
      const sub = next++;
      const onMessage = (payload: BenchPayload): void => tally.receive(sub, payload.id);
      open.push(await factory.subscribe(url.href, `u${sub}`, undefined, onMessage));
    }
  };
  try {
    await withTimeout(Promise.all(Array.from({ length: 100 }, lane)), subscribeTimeoutMs, `opening ${subscribers} subscribers`);
    let phase: 'warm-up' | 'measure' | 'stop' = 'warm-up';
    let warmups = 0;
    let publishFailures = 0;
    const firstFailures: string[] = [];
    const publishLane = async (): Promise<void> => {
      while (phase !== 'stop') {
        const sub = Math.floor(Math.random() * subscribers);
        const n = phase === 'measure' ? tally.add(sub) : -1;
        try {
          await publish(sub, { id: n >= 0 ? `m${n}` : `w${warmups++}`, sentAt: now() });
          if (n >= 0) tally.acknowledge(n);
        } catch (error) {
          publishFailures++;
          if (firstFailures.length < 3) firstFailures.push((error as Error).message);
        }
      }
    };
    const lanes = Promise.all(Array.from({ length: publishers }, publishLane));
    await sleep(Number(values['warmup-ms']));
    phase = 'measure';
    const cpu0 = meter.cpuMs(serverPid);
    const own0 = process.cpuUsage();
    const t0 = now();
    await sleep(Number(values['measure-ms']));
    phase = 'stop';
    await withTimeout(lanes, publishTimeoutMs + 5000, 'the last publishes');
    const publishedAt = now();
    await waitFor(() => tally.delivered >= tally.acked, Number(values['drain-timeout-ms']), 5);
    const cpu1 = meter.cpuMs(serverPid);
    const own = process.cpuUsage(own0);
    const t1 = now();
    return {
      t: 'result',
      cpus: allowedCpus('self'),
      published: tally.acked,
      delivered: tally.delivered,
      lost: tally.lost,
      duplicated: tally.duplicated,
      misrouted: tally.misrouted,
      publishFailures,
      firstFailures,
      publishMs: publishedAt - t0,
      windowMs: t1 - t0,
      serverCpuMs: cpu1 - cpu0,
      clientCpuMs: (own.user + own.system) / 1000,
      errors: Object.fromEntries(errors),
    };
  } finally {
    for (const subscriber of open) subscriber.close();
    agent.destroy();
  }
}

function send(message: FromDeliveryClient): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, () => resolve());
  });
}

if (!process.send) throw new Error('delivery-client.js runs as a child process with an IPC channel (see delivery.ts)');
process.on('disconnect', () => process.exit(0));
run().then(
  (result) => send(result).then(() => process.exit(0)),
  (error: unknown) =>
    send({ t: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }).then(() => process.exit(1)),
);
