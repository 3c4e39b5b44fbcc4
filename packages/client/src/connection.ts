import type { PollResponse } from '@pns/protocol';
import { type PnsClientError, type PollResult, requestPoll } from './poll-request.js';
import { type Decision, decide, type PollOutcome, type RetryOptions } from './retry-policy.js';
import { openSseLink } from './sse-link.js';
import type { StreamEnd, StreamHandlers, StreamLink, TransportName } from './stream-link.js';
import { TransportChoice, type TransportChoiceOptions } from './transport-choice.js';
import { openWebSocketLink } from './websocket-link.js';

export type LoopStatus = 'polling' | 'waiting' | 'offline' | 'stopped';

export interface ConnectionOptions extends RetryOptions {
  /** The server's base URL, without a trailing slash. */
  url: string;
  /** The session token; `refresh` asks for a fresh one after SESSION_EXPIRED/INVALID. */
  sid(refresh: boolean): Promise<string>;
  /** Whether `sid` can give a fresh token at all. */
  refreshable: boolean;
  comeFrom: string | undefined;
  channels: readonly string[];
  holdSeconds: number;
  /** Added to the hold for the client-side timeout, so a healthy hold never counts as a failure. */
  timeoutMarginMs: number;
  /** A stream that shows no sign of life within this is given up (a blocked upgrade, a buffering proxy). */
  connectTimeoutMs: number;
  /** A stream that dies sooner than this after it went live counts as a failure of its transport. */
  stableAfterMs: number;
  fetch: typeof fetch;
  WebSocket: typeof WebSocket | undefined;
  EventSource: typeof EventSource | undefined;
  transport: Omit<TransportChoiceOptions, 'available' | 'onUpgradeDue'>;
  onAnswer(body: PollResponse): void;
  onStatus(status: LoopStatus): void;
  onTransport(name: TransportName): void;
  /** The server refused the cursor once; the connection goes on from the server's positions. */
  onCursorDropped(): void;
  /** Stopped for good: the session is over (`session`) or a request cannot succeed (`fatal`). */
  onStop(reason: 'session' | 'fatal', error: PnsClientError): void;
}

/** What ended one attempt: the retry policy's outcome, and whether its transport is to blame. */
interface Attempt {
  outcome: PollOutcome;
  blame?: TransportName;
}

/** The outcome of an attempt that was ended on purpose (stop, a trial of a better transport). */
const idle: PollOutcome = { kind: 'answer', superseded: false, holdMs: 0 };

/** A jittered wait for streams that pns ended itself: its shutdown, a backend failure. */
const shutdownRetryMs = (): number => 1000 + Math.round(Math.random() * 4000);

/**
 * The connection of one client (or of the tab that leads a group): keeps the cursor, runs one attempt at a time on
 * the transport TransportChoice picks (a poll, or one SSE or WebSocket stream), and applies one retry policy to all.
 * A stream that fails is followed by a short poll with the same cursor: it delivers what the stream could not and
 * tells pns's own errors (an expired token) from a transport that cannot get through.
 */
export class Connection {
  cursor: string | undefined;
  private running = false;
  private failures = 0;
  private refreshed = false;
  /** A fresh token was asked for but not obtained yet (the token source failed): ask again. */
  private refreshPending = false;
  /** The cursor was refused once and dropped (400): a second refusal is not the cursor's fault. */
  private cursorDropped = false;
  private controller: AbortController | undefined;
  private link: { close(): void } | undefined;
  /** TransportChoice asked for a try of a better transport during the current attempt. */
  private trialDue = false;
  private wake: (() => void) | undefined;
  private lastError: PnsClientError | undefined;
  private readonly choice: TransportChoice;
  private readonly options: ConnectionOptions;
  private readonly onOnline = (): void => this.wake?.();
  /** A held request would otherwise hang until its timeout: the socket does not notice the network is gone. */
  private readonly onOffline = (): void => this.interrupt();

  constructor(options: ConnectionOptions, cursor: string | undefined) {
    this.options = options;
    this.cursor = cursor;
    this.choice = new TransportChoice({
      ...options.transport,
      available: (name) => (name === 'websocket' ? !!options.WebSocket : name === 'sse' ? !!options.EventSource : true),
      onUpgradeDue: () => {
        this.trialDue = true;
        this.interrupt();
      },
    });
  }

  get transport(): TransportName {
    return this.choice.current();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    globalThis.addEventListener?.('online', this.onOnline);
    globalThis.addEventListener?.('offline', this.onOffline);
    this.run().catch((error: unknown) => {
      // Not expected to happen; if it does, the application hears of it instead of a connection that silently stops.
      this.detach();
      this.options.onStatus('stopped');
      this.options.onStop('fatal', { code: 'CLIENT_ERROR', status: undefined, message: String(error) });
    });
  }

  stop(): void {
    if (!this.running) return;
    this.detach();
    this.interrupt();
    this.wake?.();
    this.options.onStatus('stopped');
  }

  private async run(): Promise<void> {
    let refresh = false;
    let reported: TransportName | undefined;
    while (this.running) {
      if (globalThis.navigator?.onLine === false) {
        this.options.onStatus('offline');
        await this.sleep(Number.POSITIVE_INFINITY); // until the 'online' event
        continue;
      }
      const transport = this.choice.current();
      if (transport !== reported) {
        reported = transport;
        this.options.onTransport(transport);
      }
      this.options.onStatus('polling');
      const sentCursor = this.cursor !== undefined;
      this.trialDue = false;
      const attempt = await this.attempt(transport, refresh || this.refreshPending);
      refresh = false;
      if (!this.running) return;
      if (this.trialDue) continue; // ended to try a better transport: no one's fault
      if (attempt.blame) this.choice.failed(attempt.blame);
      const { outcome } = attempt;
      if (outcome.kind === 'network') this.failures++;
      else this.failures = 0;
      const decision: Decision = decide(
        outcome,
        { failures: this.failures, canRefresh: this.options.refreshable && !this.refreshed },
        this.options,
      );
      if (decision.kind === 'stop' && outcome.kind === 'error' && outcome.code === 'BAD_REQUEST' && sentCursor && !this.cursorDropped) {
        // A cursor the server cannot read (a corrupted stored copy): start over without it, and say so.
        this.cursorDropped = true;
        this.cursor = undefined;
        this.options.onCursorDropped();
        continue;
      }
      if (decision.kind === 'stop') {
        this.detach();
        this.options.onStop(decision.reason, this.lastError ?? { code: 'UNKNOWN', status: undefined, message: 'stopped' });
        this.options.onStatus('stopped');
        return;
      }
      if (decision.kind === 'refresh') {
        this.refreshed = true;
        refresh = true;
        continue;
      }
      if (outcome.kind === 'answer') this.refreshed = false;
      if (decision.delayMs > 0) {
        this.options.onStatus('waiting');
        await this.sleep(decision.delayMs, outcome.kind === 'network');
      }
    }
  }

  /** One poll, or one stream from its start to its end. Without a cursor it is always a poll: it gets one. */
  private async attempt(transport: TransportName, refresh: boolean): Promise<Attempt> {
    let sid: string;
    try {
      sid = await this.options.sid(refresh);
      this.refreshPending = false;
    } catch (error) {
      // The application's token source is unreachable: that is network trouble, not the end of the session.
      this.refreshPending = refresh;
      this.lastError = { code: 'NETWORK_ERROR', status: undefined, message: `sid(): ${String(error)}` };
      return { outcome: { kind: 'network', retryAfterMs: undefined } };
    }
    // stop() while the token was on its way: nothing may go out after it (a request the server would hold for nothing).
    if (!this.running || this.trialDue) return { outcome: idle };
    if (transport === 'longpoll' || this.cursor === undefined) {
      // Without a cursor, ask for one at once (hold=0) instead of holding: a tab that takes over, or a
      // reconnect, then always has a position to resume from, never the server's "now".
      const outcome = await this.poll(sid, this.cursor === undefined ? 0 : this.options.holdSeconds);
      if (outcome.kind === 'answer') this.choice.live(transport); // for long polling, an answer proves it works
      return { outcome };
    }
    const stream = await this.stream(transport, sid, this.cursor);
    if (stream.outcome || !this.running || this.trialDue) return { outcome: stream.outcome ?? idle };
    // The stream could not start, or died young: a poll with the same cursor tells whose fault it was. Spread
    // over the base wait, so the clients of a connection-cutting proxy or node do not all ask at once.
    await this.sleep(Math.random() * this.options.retryBaseMs, false);
    if (!this.running || this.trialDue) return { outcome: idle };
    const check = await this.poll(sid, 0);
    // pns answered while the stream failed: the transport is to blame, and it backs off like a network error.
    return check.kind === 'answer' ? { outcome: { kind: 'network', retryAfterMs: undefined }, blame: transport } : { outcome: check };
  }

  private async poll(sid: string, holdSeconds: number): Promise<PollOutcome> {
    const { options } = this;
    const controller = new AbortController();
    this.controller = controller;
    const result: PollResult = await requestPoll({
      url: options.url,
      sid,
      comeFrom: options.comeFrom,
      channels: options.channels,
      cursor: this.cursor,
      holdSeconds,
      timeoutMarginMs: options.timeoutMarginMs,
      supersededWaitMs: options.holdSeconds * 1000,
      fetch: options.fetch,
      signal: controller.signal,
    });
    this.controller = undefined;
    if (result.error) this.lastError = result.error;
    if (result.answer && this.running) {
      this.cursor = result.answer.cursor;
      options.onAnswer(result.answer);
    }
    return result.outcome;
  }

  /**
   * Runs one stream until it ends. Resolves with the retry policy's outcome when pns ended it or it had become
   * stable, and with no outcome when it failed to start or died young. A live stream that shows nothing for two
   * heartbeats (and 5 s) is taken for dead: a cut path does not always close the socket.
   */
  private stream(transport: 'websocket' | 'sse', sid: string, cursor: string): Promise<{ outcome?: PollOutcome }> {
    const { options } = this;
    return new Promise((resolve) => {
      let stable = false;
      let finished = false;
      let idleMs = 0;
      let link: StreamLink | undefined;
      let stableTimer: ReturnType<typeof setTimeout> | undefined;
      let idleTimer: ReturnType<typeof setTimeout> | undefined;
      const handle = { close: () => finish({ kind: 'closed' }) };
      const finish = (end: StreamEnd): void => {
        if (finished) return;
        finished = true;
        clearTimeout(connectTimer);
        clearTimeout(stableTimer);
        clearTimeout(idleTimer);
        link?.close();
        if (this.link === handle) this.link = undefined;
        resolve({ outcome: this.streamOutcome(end, stable) });
      };
      /** Anything from pns: the stream works (a buffering proxy lets nothing through), and is not dead yet. */
      const alive = (): void => {
        clearTimeout(connectTimer);
        if (idleMs === 0 || finished) return;
        clearTimeout(idleTimer);
        idleTimer = setTimeout(handle.close, idleMs);
      };
      const connectTimer = setTimeout(handle.close, options.connectTimeoutMs);
      const handlers: StreamHandlers = {
        live: (heartbeatSeconds) => {
          this.refreshed = false; // the token works
          idleMs = heartbeatSeconds > 0 ? heartbeatSeconds * 2000 + 5000 : 0;
          alive();
          // Only a stream that lasts counts as working: one that dies young, again and again, is stepped down from.
          stableTimer = setTimeout(() => {
            stable = true;
            this.failures = 0;
            this.choice.live(transport);
          }, options.stableAfterMs);
        },
        alive,
        answer: (body: PollResponse) => {
          alive();
          this.cursor = body.cursor;
          options.onAnswer(body);
        },
        end: finish,
      };
      this.link = handle;
      const target = { base: options.url, sid, cursor, channels: options.channels };
      try {
        link =
          transport === 'websocket'
            ? openWebSocketLink(options.WebSocket as typeof WebSocket, target, handlers)
            : openSseLink(options.EventSource as typeof EventSource, target, handlers);
      } catch {
        finish({ kind: 'closed' }); // a URL the class refuses (a relative one, ws: from https): this transport cannot work
      }
    });
  }

  private streamOutcome(end: StreamEnd, stable: boolean): PollOutcome | undefined {
    const holdMs = this.options.holdSeconds * 1000;
    switch (end.kind) {
      case 'shutdown':
        return { kind: 'error', status: 503, code: 'SHUTTING_DOWN', retryAfterMs: shutdownRetryMs() };
      case 'backend':
        this.lastError = { code: 'BACKEND_UNAVAILABLE', status: undefined, message: 'the stream ended: the message store failed' };
        return { kind: 'error', status: 503, code: 'BACKEND_UNAVAILABLE', retryAfterMs: shutdownRetryMs() };
      case 'expired':
        this.lastError = { code: 'SESSION_EXPIRED', status: undefined, message: 'the stream ended: the session expired' };
        return { kind: 'error', status: 401, code: 'SESSION_EXPIRED', retryAfterMs: undefined };
      case 'superseded':
        return { kind: 'answer', superseded: true, holdMs };
      case 'slow':
        return { kind: 'answer', superseded: false, holdMs };
      case 'closed':
        if (!this.running || !stable) return undefined;
        // A stream that had lasted was cut: come back soon, spread over 0.5–3 s (not all clients of a crashed node at once).
        return { kind: 'network', retryAfterMs: 500 + Math.round(Math.random() * 2500) };
    }
  }

  /** Ends the current attempt: a held poll is aborted, a stream closed. */
  private interrupt(): void {
    this.controller?.abort();
    this.link?.close();
  }

  private detach(): void {
    this.running = false;
    this.choice.dispose();
    globalThis.removeEventListener?.('online', this.onOnline);
    globalThis.removeEventListener?.('offline', this.onOffline);
  }

  /** Waits `ms`, ended early by stop() and, when `untilOnline`, by the browser coming back online. */
  private sleep(ms: number, untilOnline = true): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      this.wake = untilOnline ? done : () => (this.running ? undefined : done());
    });
  }
}
