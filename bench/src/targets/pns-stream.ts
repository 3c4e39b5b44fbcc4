/**
 * What the pns streaming subscribers (SSE, WebSocket) share: one connection
 * held per subscriber, and on its loss a new one that resumes from the last
 * position received (the cursor), with back-off. A transport only opens a
 * connection and reports what arrives on it (StreamEvents).
 */
import type { BenchPayload, SubscriberFactory } from '../target.js';
import { backoffMs, errorKind, type PnsSubscription, pnsSubscriberFactory } from './pns-client.js';

/** What a connection reports to its subscriber. */
export interface StreamEvents {
  message(payload: BenchPayload): void;
  /** The position after everything delivered so far: a reconnect resumes from it. */
  position(cursor: string): void;
  /** Everything retained was sent: from here on, what is published reaches this connection. */
  live(): void;
  /** The connection is gone (called once); `retryAfterMs` when the server said when to come back. */
  ended(error: Error, retryAfterMs?: number): void;
}

/** What a transport gets to open one connection. */
export interface StreamRequest {
  server: URL;
  /** `sid=…[&ch=…]`. */
  query: string;
  /** Where to resume, or undefined: from now. */
  cursor: string | undefined;
  localAddress: string | undefined;
  /** Give up on a connection silent for this long (the server's heartbeats come at most every hold). */
  idleTimeoutMs: number;
}

/** Opens one connection; `close()` ends it without reporting `ended`. */
export type OpenStream = (request: StreamRequest, events: StreamEvents) => { close(): void };

/** Failed first connections after which `subscribe()` gives up. */
const startAttempts = 3;

/** One subscriber's connection and its reconnects (also used alone by the soak test, src/soak). */
export class StreamSubscriber {
  private connection: { close(): void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private started = false;
  private failures = 0;
  private resolveStart: () => void = () => {};
  private rejectStart: (error: Error) => void = () => {};

  /** `cursor`: where to resume (a returning client's last position); undefined: from now. */
  constructor(
    private readonly open: OpenStream,
    private readonly subscription: PnsSubscription,
    private cursor?: string,
  ) {}

  /** The cursor after the last message received (or the one it started from). */
  get position(): string | undefined {
    return this.cursor;
  }

  /** Resolves once a connection is live (so a message published after it must arrive); rejects after 3 failed tries. */
  start(): Promise<void> {
    const started = new Promise<void>((resolve, reject) => {
      this.resolveStart = resolve;
      this.rejectStart = reject;
    });
    this.connect();
    return started;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.connection?.close();
    this.connection = undefined;
  }

  private connect(): void {
    this.timer = undefined;
    if (this.closed) return;
    const { server, query, settings } = this.subscription;
    const request: StreamRequest = {
      server,
      query,
      cursor: this.cursor,
      localAddress: settings.localAddress,
      idleTimeoutMs: (settings.holdSeconds + 15) * 1000,
    };
    let ended = false;
    this.connection = this.open(request, {
      message: (payload) => {
        if (!this.closed && !ended) this.subscription.onMessage(payload);
      },
      position: (cursor) => {
        if (!ended) this.cursor = cursor;
      },
      live: () => {
        if (ended) return;
        this.failures = 0;
        if (!this.started) {
          this.started = true;
          this.resolveStart();
        }
      },
      ended: (error, retryAfterMs) => {
        if (ended) return;
        ended = true;
        this.connection = undefined;
        this.lost(error, retryAfterMs);
      },
    });
  }

  private lost(error: Error, retryAfterMs: number | undefined): void {
    if (this.closed) return;
    this.failures++;
    if (!this.started && this.failures >= startAttempts) {
      this.close();
      this.rejectStart(error);
      return;
    }
    this.subscription.settings.reportError(errorKind(error));
    this.timer = setTimeout(() => this.connect(), retryAfterMs ?? backoffMs(this.failures));
  }
}

/** A subscriber factory for a pns streaming transport. */
export function pnsStreamFactory(open: OpenStream): SubscriberFactory {
  return pnsSubscriberFactory(async (subscription) => {
    const subscriber = new StreamSubscriber(open, subscription);
    await subscriber.start();
    return subscriber;
  });
}
