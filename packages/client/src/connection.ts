import type { PollResponse } from '@pns/protocol';
import { type PnsClientError, type PollResult, requestPoll } from './poll-request.js';
import { type Decision, decide, type PollOutcome, type RetryOptions } from './retry-policy.js';
import { openSseLink } from './sse-link.js';
import type { StreamEnd, StreamLink, TransportName } from './stream-link.js';
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
      onUpgradeDue: () => this.interrupt(),
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
    void this.run();
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
      const attempt = await this.attempt(transport, refresh || this.refreshPending);
      refresh = false;
      if (!this.running) return;
      if (this.choice.current() !== transport) continue; // ended to try a better transport: no one's fault
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
    if (!this.running) return { outcome: idle };
    if (transport === 'longpoll' || this.cursor === undefined) {
      // Without a cursor, ask for one at once (hold=0) instead of holding: a tab that takes over, or a
      // reconnect, then always has a position to resume from, never the server's "now".
      return { outcome: await this.poll(sid, this.cursor === undefined ? 0 : this.options.holdSeconds) };
    }
    const stream = await this.stream(transport, sid, this.cursor);
    if (stream.outcome || !this.running || this.choice.current() !== transport) return { outcome: stream.outcome ?? idle };
    // The stream could not start, or died young: a poll with the same cursor tells whose fault it was.
    const check = await this.poll(sid, 0);
    return check.kind === 'answer' ? { outcome: check, blame: transport } : { outcome: check };
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
   * Runs one stream until it ends. Resolves with the retry policy's outcome when pns ended it or it lived long
   * enough, and with no outcome when it failed to start or died young.
   */
  private stream(transport: 'websocket' | 'sse', sid: string, cursor: string): Promise<{ outcome?: PollOutcome }> {
    const { options } = this;
    return new Promise((resolve) => {
      let liveAt: number | undefined;
      let finished = false;
      const connectTimer = setTimeout(() => finish({ kind: 'closed' }), options.connectTimeoutMs);
      const finish = (end: StreamEnd): void => {
        if (finished) return;
        finished = true;
        clearTimeout(connectTimer);
        link.close();
        if (this.link === link) this.link = undefined;
        resolve({ outcome: this.streamOutcome(end, liveAt) });
      };
      const handlers = {
        live: () => {
          clearTimeout(connectTimer);
          liveAt = Date.now();
          this.failures = 0;
          this.refreshed = false;
          this.choice.live(transport);
        },
        answer: (body: PollResponse) => {
          this.cursor = body.cursor;
          options.onAnswer(body);
        },
        end: finish,
      };
      const link: StreamLink =
        transport === 'websocket'
          ? openWebSocketLink(options.WebSocket as typeof WebSocket, options.url, sid, cursor, options.channels, handlers)
          : openSseLink(options.EventSource as typeof EventSource, options.url, sid, cursor, options.channels, handlers);
      this.link = { close: () => finish({ kind: 'closed' }) };
    });
  }

  private streamOutcome(end: StreamEnd, liveAt: number | undefined): PollOutcome | undefined {
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
        if (!this.running || liveAt === undefined || Date.now() - liveAt < this.options.stableAfterMs) return undefined;
        // A stream that had lived a while was cut: come back soon, spread out (not all clients of a crashed node at once).
        return { kind: 'network', retryAfterMs: undefined };
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
