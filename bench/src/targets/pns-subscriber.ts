/**
 * The pns subscriber, run in load generators: a raw node:http keep-alive
 * loop per subscriber that sends its cursor with every poll and asks for the
 * server's longest hold, as docs/protocol.md §11 recommends.
 */
import http from 'node:http';
import { type BenchPayload, clientKeepAliveMsecs, type SubscriberFactory } from '../target.js';
import {
  backoffMs,
  errorKind,
  forEachPayload,
  type PnsClientSettings,
  type PnsSubscription,
  type PollAnswer,
  pnsSubscriberFactory,
  retryAfterMs,
} from './pns-client.js';

type Done = (error: Error | undefined, retryAfterMs?: number) => void;

/** What the soak test (src/soak) asks of a poller beyond the bench's defaults. */
export interface PollerOptions {
  /** Where to resume: a returning client's last cursor. Default: from now. */
  cursor?: string;
  /** Wait after an answer before polling again: the seed client's 500 ms. Default 0 (at once). */
  repollDelayMs?: number;
}

export class Poller {
  /**
   * One keep-alive agent per subscriber: an agent keeps its sockets in arrays it searches on every
   * request, so one agent shared by 15,000 subscribers spends more time there than on HTTP.
   */
  private readonly agent: http.Agent;
  private cursor: string;
  private readonly repollDelayMs: number;
  private request: http.ClientRequest | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failures = 0;

  private readonly server: URL;
  private readonly basePath: string;
  private readonly settings: PnsClientSettings;
  private readonly onMessage: (payload: BenchPayload) => void;

  constructor(subscription: PnsSubscription, options: PollerOptions = {}) {
    const { server, query, settings, onMessage } = subscription;
    this.cursor = options.cursor ?? '';
    this.repollDelayMs = options.repollDelayMs ?? 0;
    this.server = server;
    this.basePath = `/pns/poll?${query}`;
    this.settings = settings;
    this.onMessage = onMessage;
    this.agent = new http.Agent({
      keepAlive: true,
      keepAliveMsecs: clientKeepAliveMsecs,
      maxSockets: 1,
      ...(settings.localAddress ? { localAddress: settings.localAddress } : {}),
    });
  }

  /** A first poll with hold=0: its cursor marks "now", so anything published after it is owed. Then the loop. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let attempts = 0;
      const first = (): void =>
        this.poll(0, (error, retryAfterMs) => {
          if (!error) {
            resolve();
            this.next();
          } else if (++attempts >= 3 || this.closed) reject(error);
          else {
            this.settings.reportError(errorKind(error));
            this.timer = setTimeout(first, retryAfterMs ?? backoffMs(attempts));
          }
        });
      first();
    });
  }

  /** The cursor of the last answer (or the one it started from); undefined before the first answer. */
  get position(): string | undefined {
    return this.cursor || undefined;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.request?.destroy();
    this.agent.destroy();
  }

  private next(): void {
    if (this.closed) return;
    this.poll(this.settings.holdSeconds, (error, retryAfterMs) => {
      if (this.closed) return;
      if (!error) {
        this.failures = 0;
        if (this.repollDelayMs > 0) this.timer = setTimeout(() => this.next(), this.repollDelayMs);
        else this.next();
        return;
      }
      this.settings.reportError(errorKind(error));
      this.failures++;
      this.timer = setTimeout(() => this.next(), retryAfterMs ?? backoffMs(this.failures));
    });
  }

  private poll(hold: number, done: Done): void {
    let settled = false;
    const finish: Done = (error, retryAfterMs) => {
      if (settled) return;
      settled = true;
      this.request = undefined;
      done(error, retryAfterMs);
    };
    const cursor = this.cursor ? `&cursor=${this.cursor}` : '';
    const request = http.get(
      {
        agent: this.agent,
        hostname: this.server.hostname,
        port: this.server.port,
        path: `${this.basePath}&hold=${hold}${cursor}`,
        timeout: (hold + 15) * 1000,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('error', (error) => finish(error));
        response.on('end', () => {
          if (response.statusCode !== 200) {
            finish(new Error(`HTTP ${response.statusCode}`), retryAfterMs(response.headers['retry-after']));
            return;
          }
          let answer: PollAnswer;
          try {
            answer = JSON.parse(body) as PollAnswer;
          } catch {
            finish(new Error('bad JSON'));
            return;
          }
          this.cursor = answer.cursor;
          if (!this.closed) forEachPayload(answer, this.onMessage);
          if (answer.superseded) this.settings.reportError('superseded');
          // node:http hands the socket back to the agent on the next tick, after these handlers:
          // poll again after that, or every poll would open a new connection and leave the old one idle.
          setImmediate(finish, undefined);
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('poll timeout')));
    request.on('error', (error) => finish(error));
    this.request = request;
  }
}

export const factory: SubscriberFactory = pnsSubscriberFactory(async (subscription) => {
  const poller = new Poller(subscription);
  await poller.start();
  return poller;
});
