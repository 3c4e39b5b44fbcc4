/**
 * The soak's publisher: a steady rate of messages to users the population picks (online, away, or not
 * yet arrived), one message per request or in batches, some to several users at once. Each is entered in
 * the ledger before it is sent; only a 200 answer carrying exactly its ids acknowledges it.
 */
import http from 'node:http';
import { now } from '../clock.js';
import { userOf } from '../loadgen-protocol.js';
import { postPublish } from '../targets/pns.js';
import type { SoakLedger } from './ledger.js';
import type { Population } from './population.js';

export interface PublisherOptions {
  serverUrl: string;
  /** Messages per second. */
  rate: number;
  /** Requests in flight at most: a tick that finds them all busy publishes nothing (counted as skipped). */
  maxInFlight: number;
}

const tickMs = 50;
/** Share of messages sent in batches (of up to `batchSize`), and of messages to two or three users. */
const batchShare = 0.5;
const batchSize = 10;
const multiShare = 0.1;
const requestTimeoutMs = 10_000;

export class Publisher {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private due = 0;
  private inFlight = 0;
  readonly counts = { requests: 0, batches: 0, messages: 0, failedRequests: 0, skippedMessages: 0, activeMs: 0 };
  readonly failures: string[] = [];

  constructor(
    private readonly options: PublisherOptions,
    private readonly ledger: SoakLedger,
    private readonly population: Population,
  ) {}

  start(): void {
    this.startedAt = now();
    this.due = 0;
    this.timer = setInterval(() => this.tick(), tickMs);
  }

  /** Stops publishing and waits (at most `timeoutMs`) for the requests in flight to be answered. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.counts.activeMs = now() - this.startedAt;
    const deadline = now() + timeoutMs;
    while (this.inFlight > 0 && now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /** Closes the publisher's keep-alive connections (before counting the server's open connections). */
  close(): void {
    this.agent.destroy();
  }

  private tick(): void {
    const target = Math.floor(((now() - this.startedAt) / 1000) * this.options.rate);
    let owed = target - this.due;
    this.due = target;
    while (owed > 0) {
      const size = Math.random() < batchShare ? Math.min(owed, batchSize) : 1;
      owed -= size;
      if (this.inFlight >= this.options.maxInFlight) {
        this.counts.skippedMessages += size;
        continue;
      }
      this.send(size);
    }
  }

  private send(size: number): void {
    const sentAt = now();
    const seqs: number[] = [];
    const bodies: string[] = [];
    for (let k = 0; k < size; k++) {
      const recipients = this.recipients();
      const seq = this.ledger.enter(recipients, sentAt);
      seqs.push(seq);
      const to = recipients.map((u) => `"user:${userOf(u)}"`);
      const id = `s${seq}`;
      bodies.push(
        `{"id":"${id}","to":${to.length === 1 ? to[0] : `[${to.join(',')}]`},"type":"soak","data":{"id":"${id}","sentAt":${sentAt}}}`,
      );
    }
    this.counts.requests++;
    this.counts.messages += size;
    if (size > 1) this.counts.batches++;
    this.inFlight++;
    postPublish(this.agent, this.options.serverUrl, size === 1 ? (bodies[0] as string) : `[${bodies.join(',')}]`, requestTimeoutMs)
      .then(
        (answer) => {
          this.inFlight--;
          const ids = (JSON.parse(answer) as { ids?: unknown }).ids;
          const expected = seqs.map((seq) => `s${seq}`);
          if (JSON.stringify(ids) !== JSON.stringify(expected))
            throw new Error(`answer ${answer.slice(0, 200)} lacks ids ${expected.join(',')}`);
          const at = now();
          for (const seq of seqs) this.ledger.acknowledged(seq, at);
        },
        (error: unknown) => {
          this.inFlight--;
          this.fail(seqs, error);
        },
      )
      .catch((error: unknown) => this.fail(seqs, error));
  }

  private fail(seqs: number[], error: unknown): void {
    this.counts.failedRequests++;
    if (this.failures.length < 5) this.failures.push(error instanceof Error ? error.message : String(error));
    for (const seq of seqs) this.ledger.failed(seq);
  }

  /** One user, or two or three different ones. */
  private recipients(): number[] {
    const wanted = Math.random() < multiShare ? 2 + Math.floor(Math.random() * 2) : 1;
    const chosen = new Set<number>();
    for (let attempt = 0; chosen.size < wanted && attempt < 10; attempt++) chosen.add(this.population.recipient());
    return [...chosen];
  }
}
