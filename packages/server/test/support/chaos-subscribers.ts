// The chaos tests' clients (chaos-*.test.ts): one per transport, each reconnecting by cursor however its
// connection ends, and keeping everything it is given, repeats included, for the exactly-once count (chaos.ts).
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { PnsMessage, PollResponse } from '@pns/protocol';
import { createToken } from '@pns/publisher';
import { SseParser } from '@pns/test-support';
import { WebSocket } from 'ws';
import { delay, waitFor } from './harness.js';
import type { TransportName } from './transport-subscriber.js';

/** Every subscriber listens to its own user channel and to this topic, which every fourth message goes to. */
export const broadcast = 'topic:chaos';
export const chaosSecret = 'chaos-test-secret-0123456789abcdef';
const transportOrder: readonly TransportName[] = ['longpoll', 'sse', 'websocket'];
/** How long a client waits before it reconnects (the SDK's first retry is 500 ms; shorter keeps cases quick). */
const reconnectMs = 200;

/** One message the client was given, when. */
export interface Received {
  id: string;
  at: number;
}

/** A client of one transport that reconnects by cursor whenever its connection ends, however it ends. */
export abstract class ChaosSubscriber {
  readonly received: Received[] = [];
  /** For each gap signal, how many messages had been received before it. */
  readonly gaps: number[] = [];
  /** What the client saw besides messages: refusals, stream ends, cut connections, and how often. */
  readonly incidents = new Map<string, number>();
  readonly channels: readonly string[];
  protected cursor: string | undefined;
  protected stopped = false;
  private isReady = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly transport: TransportName,
    readonly user: string,
    protected readonly url: string,
    protected readonly sid: string,
    protected readonly holdSeconds: number,
  ) {
    this.channels = [`user:${user}`, broadcast];
  }

  get label(): string {
    return `${this.transport} client of ${this.user}`;
  }

  /** Resolves once the client stands somewhere (it has a cursor), so what is published from now on is owed to it. */
  ready(timeoutMs = 10_000): Promise<void> {
    return waitFor(() => this.isReady, timeoutMs, `${this.label} ready`);
  }

  start(): this {
    this.connect();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.close();
  }

  /**
   * For one connection: the first call notes how it ended (undefined for a clean end) and reconnects shortly;
   * the later ones (a connection ends through several events) do nothing.
   */
  protected ending(): (incident: string | undefined) => void {
    let done = false;
    return (incident) => {
      if (done || this.stopped) return;
      done = true;
      if (incident !== undefined) this.note(incident);
      this.timer = setTimeout(() => this.connect(), reconnectMs);
    };
  }

  protected note(incident: string): void {
    this.incidents.set(incident, (this.incidents.get(incident) ?? 0) + 1);
  }

  protected markReady(): void {
    this.isReady = true;
  }

  /** A poll answer or a WebSocket frame. */
  protected take(answer: PollResponse): void {
    if (answer.gap === true) this.gaps.push(this.received.length);
    const at = Date.now();
    for (const message of answer.msg) this.received.push({ id: message.id, at });
    this.cursor = answer.cursor;
  }

  protected abstract connect(): void;
  protected abstract close(): void;
}

function errorCodeOf(text: string): string {
  try {
    return String((JSON.parse(text) as { errorCode?: unknown }).errorCode);
  } catch {
    return 'not JSON';
  }
}

/** Reads a refusal to its end, then gives `done` its status and error code. */
function readRefusal(response: http.IncomingMessage, done: (incident: string) => void): void {
  let text = '';
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    text += chunk;
  });
  response.on('end', () => done(`${response.statusCode} ${errorCodeOf(text)}`));
}

/** Long polling with its cursor: the next poll at once after an answer, 200 ms after a refusal or a network error. */
class PollingSubscriber extends ChaosSubscriber {
  private readonly abort = new AbortController();

  protected connect(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    const comeFrom = `chaos-${randomBytes(6).toString('hex')}`;
    while (!this.stopped) {
      const query = new URLSearchParams({ sid: this.sid, ch: broadcast, hold: this.cursor === undefined ? '0' : String(this.holdSeconds) });
      if (this.cursor === undefined) query.set('comeFrom', comeFrom);
      else query.set('cursor', this.cursor);
      try {
        const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout((this.holdSeconds + 10) * 1000)]);
        const response = await fetch(`${this.url}/pns/poll?${query}`, { signal });
        const text = await response.text();
        if (response.status === 200) {
          this.take(JSON.parse(text) as PollResponse);
          this.markReady();
          continue;
        }
        this.note(`${response.status} ${errorCodeOf(text)}`);
      } catch {
        if (this.stopped) return;
        this.note('poll cut or refused');
      }
      await delay(reconnectMs);
    }
  }

  protected close(): void {
    this.abort.abort();
  }
}

/** Server-Sent Events, resuming with Last-Event-ID as EventSource does. */
class SseSubscriber extends ChaosSubscriber {
  private request: http.ClientRequest | undefined;

  protected connect(): void {
    if (this.stopped) return;
    let ended = false;
    const again = this.ending();
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.cursor !== undefined) headers['last-event-id'] = this.cursor;
    const query = new URLSearchParams({ sid: this.sid, ch: broadcast });
    const request = http.get(`${this.url}/pns/sse?${query}`, { headers, agent: false }, (response) => {
      response.setEncoding('utf8');
      if (response.statusCode !== 200) {
        readRefusal(response, again);
        response.on('error', () => again('stream cut'));
        return;
      }
      const parser = new SseParser((event) => {
        if (event.id !== undefined) this.cursor = event.id;
        if (event.data === undefined) return;
        const kind = event.event ?? 'message';
        if (kind === 'message') this.received.push({ id: (JSON.parse(event.data) as PnsMessage).id, at: Date.now() });
        else if (kind === 'gap') this.gaps.push(this.received.length);
        else if (kind === 'live') this.markReady();
        else if (kind === 'end') {
          ended = true;
          const end = JSON.parse(event.data) as { reason?: string; errorCode?: string };
          this.note(`end ${end.reason}${end.errorCode ? ` ${end.errorCode}` : ''}`);
        }
      });
      response.on('data', (chunk: string) => parser.push(chunk));
      response.on('end', () => again(ended ? undefined : 'stream cut'));
      response.on('close', () => again(ended ? undefined : 'stream cut'));
      response.on('error', () => again('stream cut'));
    });
    request.on('error', () => again('stream cut or refused'));
    this.request = request;
  }

  protected close(): void {
    this.request?.destroy();
  }
}

/** WebSocket, reconnecting with the last frame's cursor. */
class SocketSubscriber extends ChaosSubscriber {
  private socket: WebSocket | undefined;

  protected connect(): void {
    if (this.stopped) return;
    const again = this.ending();
    const query = new URLSearchParams({ sid: this.sid, ch: broadcast });
    if (this.cursor !== undefined) query.set('cursor', this.cursor);
    const socket = new WebSocket(`${this.url.replace(/^http/, 'ws')}/pns/ws?${query}`, { handshakeTimeout: 5000 });
    this.socket = socket;
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as PollResponse;
      this.take(frame);
      if (frame.c === 0 && frame.gap !== true) this.markReady();
    });
    socket.on('unexpected-response', (request, response) =>
      readRefusal(response, (incident) => {
        again(incident);
        request.destroy();
      }),
    );
    socket.on('close', (code, reason) => again(`close ${code}${reason.length > 0 ? ` ${reason}` : ''}`));
    socket.on('error', () => again('socket cut or refused'));
  }

  protected close(): void {
    this.socket?.terminate();
  }
}

/**
 * `perTransport` clients of each transport, user `<prefix>0` on, spread so that each URL gets every transport;
 * resolves once all of them are ready.
 */
export async function openSubscribers(urls: readonly string[], perTransport: number, holdSeconds = 5): Promise<ChaosSubscriber[]> {
  const subscribers: ChaosSubscriber[] = [];
  for (let index = 0; index < perTransport * transportOrder.length; index++) {
    // Each group of three has every transport, in a rotated order: a round-robin balancer in front of three
    // nodes then hands each node clients of every transport, rather than all long polls to one.
    const group = Math.floor(index / transportOrder.length);
    const transport = transportOrder[(index + group) % transportOrder.length] as TransportName;
    const url = urls[group % urls.length] as string;
    const user = `u${index}`;
    const sid = await createToken({ secret: chaosSecret, user, topics: ['chaos'] });
    const Kind = transport === 'longpoll' ? PollingSubscriber : transport === 'sse' ? SseSubscriber : SocketSubscriber;
    subscribers.push(new Kind(transport, user, url, sid, holdSeconds).start());
  }
  await Promise.all(subscribers.map((subscriber) => subscriber.ready()));
  return subscribers;
}
