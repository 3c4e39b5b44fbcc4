import { channelKey, type MessageType, type PnsMessage, type PollResponse } from '@pns/protocol';
import { Connection, type LoopStatus } from './connection.js';
import { Emitter } from './events.js';
import type { PnsClientError } from './poll-request.js';
import { defaultRetryOptions, type RetryOptions } from './retry-policy.js';
import type { TransportName } from './stream-link.js';
import { TabGroup, type TabMessage } from './tab-group.js';
import { tokenSubject } from './token.js';
import { type TransportSetting, tabStorage } from './transport-choice.js';

const transportSettings: readonly TransportSetting[] = ['auto', 'websocket', 'sse', 'longpoll'];

export interface PnsClientOptions extends Partial<RetryOptions> {
  /** The pns server's base URL, e.g. `https://push.example.com`. */
  url: string;
  /** The session token, or a function giving one: it is called again once after SESSION_EXPIRED/INVALID. */
  sid: string | (() => string | Promise<string>);
  /**
   * Names this client for server-side positions, used only until the first cursor arrives. Default:
   * a new name per client, so a fresh page starts at "now" (pass `start(cursor)` to resume instead).
   */
  comeFrom?: string;
  /** Topics to listen to besides the user's own channel (`news` or `topic:news`); the token must allow them. */
  topics?: readonly string[];
  /** Seconds the server holds each poll (more than 0). Default 25. */
  hold?: number;
  /** Share one connection among the tabs of this origin (same URL, user and topics). Default true. */
  share?: boolean;
  /** Added to the hold for the client-side request timeout. Default 10 000 ms. */
  timeoutMarginMs?: number;
  /**
   * `auto` (default): WebSocket, else SSE, else long polling, stepping down when one cannot get through and trying
   * the better one again later. Or exactly one of them.
   */
  transport?: TransportSetting;
  /** A stream that shows no sign of life within this is given up (a blocked upgrade, a buffering proxy). Default 5000 ms. */
  connectTimeoutMs?: number;
  /** How long `auto` stays on a lesser transport before it tries the next better one (doubling after each miss). Default 5 min. */
  upgradeAfterMs?: number;
  fetch?: typeof fetch;
  /** Defaults to the global one; pass one (e.g. the `ws` package's) where there is none. */
  WebSocket?: typeof WebSocket;
  /** Defaults to the global one. */
  EventSource?: typeof EventSource;
}

/** `following`: another tab polls for this one. */
export type PnsStatus = 'idle' | LoopStatus | 'following';

export interface PnsEvents {
  /** Every message, once. */
  message(message: PnsMessage): void;
  status(status: PnsStatus): void;
  /** Messages may have been missed (evicted, or a server restart): refresh the application's state. */
  gap(): void;
  /** The session is over: polling has stopped. Get a new token and start a new client. */
  sessionExpired(error: PnsClientError): void;
  /** A request that cannot succeed as it is (400, 403, 404, 413…): polling has stopped. */
  error(error: PnsClientError): void;
  /** The leading tab's connection now uses this transport. */
  transport(name: TransportName): void;
}

const rememberedIds = 2000;

/**
 * The browser client: long polls with a cursor, delivers every message once,
 * retries by the seed's rules, and shares one connection among tabs.
 */
export class PnsClient {
  private readonly options: PnsClientOptions;
  private readonly events = new Emitter<PnsEvents>();
  private readonly typeHandlers = new Map<MessageType, Set<(message: PnsMessage) => void>>();
  private readonly seen = new Set<string>();
  private currentStatus: PnsStatus = 'idle';
  private currentCursor: string | undefined;
  private token: string | undefined;
  private loop: Connection | undefined;
  private currentTransport: TransportName | undefined;
  private group: TabGroup | undefined;
  private started = false;
  /** Counts start() calls, so a start() whose token arrives after stop() and another start() gives way. */
  private generation = 0;
  /** Shared by the tabs of a group (the leader's), so a takeover before the first answer loses nothing. */
  private comeFrom: string;

  constructor(options: PnsClientOptions) {
    if (!options.url) throw new TypeError('PnsClient: `url` is required');
    if (!options.sid) throw new TypeError('PnsClient: `sid` is required');
    if (options.hold !== undefined && !(options.hold > 0)) throw new TypeError('PnsClient: `hold` must be more than 0 seconds');
    const transport = options.transport ?? 'auto';
    if (!transportSettings.includes(transport))
      throw new TypeError(`PnsClient: \`transport\` must be one of ${transportSettings.join(', ')}`);
    if (transport === 'websocket' && !(options.WebSocket ?? globalThis.WebSocket)) throw new TypeError('PnsClient: no WebSocket here');
    if (transport === 'sse' && !(options.EventSource ?? globalThis.EventSource)) throw new TypeError('PnsClient: no EventSource here');
    this.options = { ...options, url: options.url.replace(/\/+$/, '') };
    this.comeFrom = options.comeFrom ?? `c${Math.random().toString(36).slice(2, 10)}`;
  }

  get status(): PnsStatus {
    return this.currentStatus;
  }

  /** The position after the last answer; pass it to a new client to resume. */
  get cursor(): string | undefined {
    return this.currentCursor;
  }

  /** The transport this tab's connection uses; undefined while another tab leads. */
  get transport(): TransportName | undefined {
    return this.loop ? this.currentTransport : undefined;
  }

  /** Whether this tab polls (for itself and the tabs that share with it). */
  get leader(): boolean {
    return this.loop !== undefined;
  }

  on<K extends keyof PnsEvents>(event: K, handler: PnsEvents[K]): () => void {
    return this.events.on(event, handler);
  }

  /** Handles messages of one publisher-chosen type (e.g. 70, "ticket"); lifecycle events never collide with these. */
  onMessage<T = unknown>(type: MessageType, handler: (message: PnsMessage<T>) => void): () => void {
    let set = this.typeHandlers.get(type);
    if (!set) {
      set = new Set();
      this.typeHandlers.set(type, set);
    }
    set.add(handler as (message: PnsMessage) => void);
    return () => set.delete(handler as (message: PnsMessage) => void);
  }

  /** Starts receiving. `cursor` resumes from a position kept by the application. */
  async start(cursor?: string): Promise<void> {
    if (this.started) return;
    this.started = true;
    const generation = ++this.generation;
    this.currentCursor = cursor ?? this.currentCursor;
    let sid: string;
    try {
      sid = await this.sid(false);
    } catch (error) {
      if (generation === this.generation) this.started = false;
      throw error;
    }
    // Stopped while the token was being fetched (and maybe started again: that start() goes on, not this one).
    if (!this.started || generation !== this.generation) return;
    if (this.options.share !== false && TabGroup.supported()) {
      const who = tokenSubject(sid) ?? channelKey(sid);
      const name = `pns|${this.options.url}|${who}|${[...this.channels()].sort().join(',')}`;
      this.setStatus('following');
      this.group = new TabGroup(name, { lead: () => this.lead(), receive: (message) => this.receive(message) });
    } else {
      this.lead();
    }
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.loop?.stop();
    this.loop = undefined;
    this.group?.leave();
    this.group = undefined;
    this.setStatus('stopped');
  }

  private channels(): string[] {
    return (this.options.topics ?? []).map((topic) => (topic.startsWith('topic:') ? topic : `topic:${topic}`));
  }

  private async sid(refresh: boolean): Promise<string> {
    const { sid } = this.options;
    if (typeof sid === 'string') return sid;
    if (refresh || this.token === undefined) this.token = await sid();
    return this.token;
  }

  private lead(): void {
    if (!this.started || this.loop) return;
    const retry = { ...defaultRetryOptions };
    for (const key of Object.keys(retry) as (keyof RetryOptions)[]) retry[key] = this.options[key] ?? retry[key];
    const { options } = this;
    this.loop = new Connection(
      {
        ...retry,
        url: options.url,
        sid: (refresh) => this.sid(refresh),
        refreshable: typeof this.options.sid === 'function',
        comeFrom: this.comeFrom,
        channels: this.channels(),
        holdSeconds: options.hold ?? 25,
        timeoutMarginMs: options.timeoutMarginMs ?? 10_000,
        connectTimeoutMs: options.connectTimeoutMs ?? 5000,
        stableAfterMs: 10_000,
        fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
        WebSocket: options.WebSocket ?? globalThis.WebSocket,
        EventSource: options.EventSource ?? globalThis.EventSource,
        transport: {
          setting: options.transport ?? 'auto',
          storage: tabStorage(),
          key: `pns-transport|${options.url}`,
          fallbackFailures: 2,
          fallbackWindowMs: 60_000,
          upgradeAfterMs: options.upgradeAfterMs ?? 300_000,
        },
        onAnswer: (body) => {
          this.group?.post({ t: 'answer', body });
          this.handleAnswer(body);
        },
        onStatus: (status) => {
          if (this.started) this.setStatus(status);
        },
        onTransport: (name) => {
          this.currentTransport = name;
          this.events.emit('transport', name);
        },
        onCursorDropped: () => this.events.emit('gap'),
        // Each tab stops for itself: the next tab to lead tries with its own token.
        onStop: (reason, error) => this.handleStop(reason, error),
      },
      this.currentCursor,
    );
    this.loop.start();
    this.group?.post({ t: 'cursor', cursor: this.currentCursor, comeFrom: this.comeFrom });
  }

  private receive(message: TabMessage): void {
    switch (message.t) {
      case 'answer':
        if (!this.loop) this.handleAnswer(message.body);
        break;
      case 'hello':
        if (this.loop) this.group?.post({ t: 'cursor', cursor: this.currentCursor, comeFrom: this.comeFrom });
        break;
      case 'cursor':
        if (this.loop) break;
        if (message.cursor !== undefined) this.currentCursor = message.cursor;
        this.comeFrom = message.comeFrom;
        break;
    }
  }

  private handleAnswer(body: PollResponse): void {
    this.currentCursor = body.cursor;
    if (body.gap) this.events.emit('gap');
    for (const message of body.msg) {
      if (this.seen.has(message.id)) continue;
      this.seen.add(message.id);
      if (this.seen.size > rememberedIds) this.seen.delete(this.seen.values().next().value as string);
      this.events.emit('message', message);
      for (const handler of this.typeHandlers.get(message.type) ?? []) {
        try {
          handler(message);
        } catch (error) {
          setTimeout(() => {
            throw error;
          });
        }
      }
    }
  }

  private handleStop(reason: 'session' | 'fatal', error: PnsClientError): void {
    if (!this.started) return;
    this.stop();
    this.events.emit(reason === 'session' ? 'sessionExpired' : 'error', error);
  }

  private setStatus(status: PnsStatus): void {
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    this.events.emit('status', status);
  }
}
