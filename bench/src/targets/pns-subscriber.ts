/**
 * The pns subscriber, run in load generators: a raw node:http keep-alive
 * loop per subscriber that sends its cursor with every poll and asks for the
 * server's longest hold, as docs/protocol.md §11 recommends.
 */
import http from 'node:http';
import { createToken } from '@pns/publisher';
import type { BenchPayload, LoadContext, SubscriberFactory } from '../target.js';
import { benchTokenTtl, pnsSecret } from './pns-config.js';

interface PollAnswer {
  c: number;
  msg: { id: string; data: unknown }[];
  cursor: string;
  gap?: true;
  superseded?: true;
}

interface Settings {
  holdSeconds: number;
  localAddress: string | undefined;
  reportError(kind: string): void;
}

type Done = (error: Error | undefined, retryAfterMs?: number) => void;

/** 100 ms doubling up to 1 s, with jitter (50–100 %). */
function backoffMs(failures: number): number {
  return Math.min(1000, 100 * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
}

function errorKind(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.message.slice(0, 40);
}

class Poller {
  /**
   * One keep-alive agent per subscriber: an agent keeps its sockets in arrays it searches on every
   * request, so one agent shared by 15,000 subscribers spends more time there than on HTTP.
   */
  private readonly agent: http.Agent;
  private cursor = '';
  private request: http.ClientRequest | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failures = 0;

  constructor(
    private readonly server: URL,
    private readonly basePath: string,
    private readonly settings: Settings,
    private readonly onMessage: (payload: BenchPayload) => void,
  ) {
    this.agent = new http.Agent({
      keepAlive: true,
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
        this.next();
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
            const retryAfter = Number(response.headers['retry-after']);
            const wait = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 + Math.random() * 500 : undefined;
            finish(new Error(`HTTP ${response.statusCode}`), wait);
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
          if (!this.closed) for (const message of answer.msg) this.onMessage(message.data as BenchPayload);
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

function createPnsSubscriberFactory(): SubscriberFactory {
  let settings: Settings | undefined;
  const settingsFor = (context: LoadContext): Settings => ({
    localAddress: context.localAddress,
    holdSeconds: context.holdSeconds,
    reportError: context.reportError,
  });
  return {
    init(context) {
      settings = settingsFor(context);
    },
    async subscribe(serverUrl, user, topic, onMessage) {
      settings ??= settingsFor({ holdSeconds: 120, reportError: () => {} });
      const sid = await createToken({ secret: pnsSecret, user, topics: topic ? [topic] : [], ttl: benchTokenTtl });
      const basePath = `/pns/poll?sid=${sid}${topic ? `&ch=topic:${topic}` : ''}`;
      const poller = new Poller(new URL(serverUrl), basePath, settings, onMessage);
      await poller.start();
      return poller;
    },
  };
}

export const factory: SubscriberFactory = createPnsSubscriberFactory();
