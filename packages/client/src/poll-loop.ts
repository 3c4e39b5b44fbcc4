import type { PollResponse } from '@pns/protocol';
import { type Decision, decide, type PollOutcome, parseRetryAfter, type RetryOptions } from './retry-policy.js';

/** An error the client reports: the server's `errorCode`, or `NETWORK_ERROR` / `HTTP_<status>` when pns did not answer. */
export interface PnsClientError {
  code: string;
  status: number | undefined;
  message: string;
}

export type LoopStatus = 'polling' | 'waiting' | 'offline' | 'stopped';

export interface PollLoopOptions extends RetryOptions {
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
  fetch: typeof fetch;
  onAnswer(body: PollResponse): void;
  onStatus(status: LoopStatus): void;
  /** The server refused the cursor once; polling goes on from the server's positions. */
  onCursorDropped(): void;
  /** Polling stopped for good: the session is over (`session`) or a request cannot succeed (`fatal`). */
  onStop(reason: 'session' | 'fatal', error: PnsClientError): void;
}

/**
 * The long-poll loop of one connection: sends the cursor, applies the retry
 * policy, and pauses while the browser is offline.
 */
export class PollLoop {
  cursor: string | undefined;
  private running = false;
  private failures = 0;
  private refreshed = false;
  /** A fresh token was asked for but not obtained yet (the token source failed): ask again. */
  private refreshPending = false;
  /** The cursor was refused once and dropped (400): a second refusal is not the cursor's fault. */
  private cursorDropped = false;
  private controller: AbortController | undefined;
  private wake: (() => void) | undefined;
  private readonly options: PollLoopOptions;
  private lastError: PnsClientError | undefined;
  private readonly onOnline = (): void => this.wake?.();
  /** A held request would otherwise hang until its timeout: the socket does not notice the network is gone. */
  private readonly onOffline = (): void => this.controller?.abort();

  constructor(options: PollLoopOptions, cursor: string | undefined) {
    this.options = options;
    this.cursor = cursor;
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
    this.controller?.abort();
    this.wake?.();
    this.options.onStatus('stopped');
  }

  private async run(): Promise<void> {
    let refresh = false;
    while (this.running) {
      if (globalThis.navigator?.onLine === false) {
        this.options.onStatus('offline');
        await this.sleep(Number.POSITIVE_INFINITY); // until the 'online' event
        continue;
      }
      this.options.onStatus('polling');
      const sentCursor = this.cursor !== undefined;
      const outcome = await this.poll(refresh || this.refreshPending);
      refresh = false;
      if (!this.running) return;
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
        this.options.onStop(decision.reason, this.lastError ?? { code: 'UNKNOWN', status: undefined, message: 'polling stopped' });
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

  private async poll(refresh: boolean): Promise<PollOutcome> {
    const { options } = this;
    let sid: string;
    try {
      sid = await options.sid(refresh);
      this.refreshPending = false;
    } catch (error) {
      // The application's token source is unreachable: that is network trouble, not the end of the session.
      this.refreshPending = refresh;
      this.lastError = { code: 'NETWORK_ERROR', status: undefined, message: `sid(): ${String(error)}` };
      return this.networkFailure(undefined);
    }
    // Without a cursor, ask for one at once (hold=0) instead of holding: a tab that takes over, or a
    // reconnect, then always has a position to resume from, never the server's "now".
    const holdSeconds = this.cursor === undefined ? 0 : options.holdSeconds;
    const query = new URLSearchParams({ sid, hold: String(holdSeconds) });
    if (options.comeFrom !== undefined) query.set('comeFrom', options.comeFrom);
    if (this.cursor !== undefined) query.set('cursor', this.cursor);
    for (const channel of options.channels) query.append('ch', channel);
    const controller = new AbortController();
    this.controller = controller;
    const timer = setTimeout(() => controller.abort(), holdSeconds * 1000 + options.timeoutMarginMs);
    try {
      const response = await options.fetch(`${options.url}/pns/poll?${query}`, {
        signal: controller.signal,
        cache: 'no-store',
        credentials: 'omit',
      });
      const text = await response.text();
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const errorCode = (body as { errorCode?: unknown } | undefined)?.errorCode;
      if (response.ok && body && typeof (body as PollResponse).cursor === 'string') {
        const answer = body as PollResponse;
        this.failures = 0;
        this.cursor = answer.cursor;
        options.onAnswer(answer);
        return { kind: 'answer', superseded: answer.superseded === true, holdMs: options.holdSeconds * 1000 };
      }
      if (typeof errorCode === 'string') {
        this.lastError = { code: errorCode, status: response.status, message: String((body as { message?: unknown }).message ?? '') };
        if (response.status === 408) return this.networkFailure(retryAfterMs);
        this.failures = 0;
        return { kind: 'error', status: response.status, code: errorCode, retryAfterMs };
      }
      this.lastError = {
        code: `HTTP_${response.status}`,
        status: response.status,
        message: `HTTP ${response.status} without a pns error body`,
      };
      // A proxy or load balancer answered, not pns: 5xx (502/503/504…) and 408 are network trouble.
      if (response.status >= 500 || response.status === 408 || response.ok) return this.networkFailure(retryAfterMs);
      return { kind: 'error', status: response.status, code: this.lastError.code, retryAfterMs };
    } catch (error) {
      this.lastError = { code: 'NETWORK_ERROR', status: undefined, message: String(error) };
      return this.networkFailure(undefined);
    } finally {
      clearTimeout(timer);
      this.controller = undefined;
    }
  }

  private detach(): void {
    this.running = false;
    globalThis.removeEventListener?.('online', this.onOnline);
    globalThis.removeEventListener?.('offline', this.onOffline);
  }

  private networkFailure(retryAfterMs: number | undefined): PollOutcome {
    this.failures++;
    return { kind: 'network', retryAfterMs };
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
