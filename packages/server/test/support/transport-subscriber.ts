import http from 'node:http';
import type { PnsMessage, PollResponse } from '@pns/protocol';
import { type RawData, WebSocket } from 'ws';
import { waitFor } from './harness.js';
import { openSse, type SseStream } from './sse-client.js';

/** The three ways a client can receive messages (docs/protocol.md sections 4, 12 and 13). */
export type TransportName = 'longpoll' | 'sse' | 'websocket';
export const transports: readonly TransportName[] = ['longpoll', 'sse', 'websocket'];

const paths: Record<TransportName, string> = { longpoll: '/pns/poll', sse: '/pns/sse', websocket: '/pns/ws' };

export interface OpenOptions {
  /** Left out: the request carries no `sid` at all. */
  sid?: string;
  /** Extra channels (`ch=`); the own user channel is always listened to. */
  channels?: string[];
  /** Where to start; left out: "now". */
  cursor?: string;
}

export type EndReason = 'refused' | 'shutdown' | 'superseded' | 'expired' | 'error' | 'closed' | 'network';

/** How a connection ended, with the transport's own evidence. */
export interface Ending {
  reason: EndReason;
  /** Refusals (an HTTP answer instead of a poll answer, a stream or an upgrade). */
  status?: number;
  errorCode?: string;
  retryAfter?: string;
  /** The answer said `Connection: close` (long poll answers and refusals). */
  connectionClose?: boolean;
  /** WebSocket: the close frame. */
  wsCode?: number;
  wsReason?: string;
  /** SSE: the `end` event (its data, id and retry). */
  sseEnd?: { reason?: string; errorCode?: string; id?: string; retry?: number };
  /** Long poll: the last answer; WebSocket: the last frame. */
  lastAnswer?: PollResponse;
  error?: string;
}

/** Just what a client sees of a message, for comparisons. */
export type Seen = Pick<PnsMessage, 'id' | 'ch' | 'type' | 'data'>;
export const seen = (messages: readonly PnsMessage[]): Seen[] => messages.map(({ id, ch, type, data }) => ({ id, ch, type, data }));

/** The path and query of a subscription request (without scheme and host). */
export function subscribePath(transport: TransportName, options: OpenOptions, extra: Record<string, string> = {}): string {
  const search = new URLSearchParams();
  if (options.sid !== undefined) search.set('sid', options.sid);
  if (options.cursor !== undefined) search.set('cursor', options.cursor);
  for (const ch of options.channels ?? []) search.append('ch', ch);
  for (const [name, value] of Object.entries(extra)) search.set(name, value);
  return `${paths[transport]}?${search}`;
}

/** The headers a client of `transport` sends with its request (an upgrade for WebSocket). */
export function requestHeaders(transport: TransportName): Record<string, string> {
  if (transport === 'sse') return { Accept: 'text/event-stream' };
  if (transport === 'websocket') {
    return { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };
  }
  return {};
}

/** One black-box client of one transport: what it received, where it stands, and how it ended. */
export abstract class TransportSubscriber {
  protected readonly received: PnsMessage[] = [];
  protected readonly gapsAt: number[] = [];
  protected lastCursor: string | undefined;
  protected isReady = false;
  protected closing = false;
  private end: Ending | undefined;
  /** Anything the transport sent that the protocol does not allow (checked by the suite: should stay empty). */
  readonly protocolErrors: string[] = [];

  constructor(readonly transport: TransportName) {}

  /** Messages delivered, in order. */
  get messages(): readonly PnsMessage[] {
    this.sync();
    return this.received;
  }
  /** For each gap signal, how many messages had been delivered before it. */
  get gaps(): readonly number[] {
    this.sync();
    return this.gapsAt;
  }
  /** The current cursor (poll: the last answer's; SSE: the last event id; WebSocket: the last frame's). */
  get cursor(): string | undefined {
    this.sync();
    return this.lastCursor;
  }
  get ending(): Ending | undefined {
    this.sync();
    return this.end;
  }

  /** Resolves once the client has a cursor and has been sent what was retained. */
  ready(timeoutMs = 5000): Promise<void> {
    return this.until(() => this.isReadyNow(), 'ready', timeoutMs);
  }
  /** Resolves with the messages once there are at least `count`. */
  async waitForMessages(count: number, timeoutMs = 5000): Promise<readonly PnsMessage[]> {
    await this.until(() => this.messages.length >= count, `${count} messages`, timeoutMs);
    return this.messages;
  }
  /** Resolves once the message with this id arrived. */
  waitForId(id: string, timeoutMs = 5000): Promise<void> {
    return this.until(() => this.messages.some((m) => m.id === id), `message ${id}`, timeoutMs);
  }

  /** Resolves with how the connection ended. */
  async ended(timeoutMs = 5000): Promise<Ending> {
    await waitFor(() => this.ending !== undefined, timeoutMs, `${this.transport} to end`);
    return this.ending as Ending;
  }

  /** Closes the connection from the client side (idempotent); resolves once it is closed. */
  async close(): Promise<void> {
    if (this.ending === undefined) {
      this.closing = true;
      this.stop();
      await waitFor(() => this.ending !== undefined, 2000, `${this.transport} closed`).catch(() => this.setEnd({ reason: 'closed' }));
    }
    this.release();
  }

  /** Waits until `check` holds; throws if the connection ended or the time ran out first. */
  private async until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
    await waitFor(() => check() || this.ending !== undefined, timeoutMs, `${what} on ${this.transport}`);
    if (!check()) throw new Error(`${what} on ${this.transport}: it ended first: ${JSON.stringify(this.ending)}`);
  }
  protected isReadyNow(): boolean {
    this.sync();
    return this.isReady;
  }
  protected setEnd(ending: Ending): void {
    this.end ??= ending;
  }
  /** Records a poll answer or a WebSocket frame. */
  protected take(answer: PollResponse): void {
    if (typeof answer?.cursor !== 'string' || !Array.isArray(answer.msg) || answer.c !== answer.msg.length) {
      this.protocolErrors.push(`not a poll answer: ${JSON.stringify(answer)}`);
      return;
    }
    if (answer.gap === true) this.gapsAt.push(this.received.length);
    this.received.push(...answer.msg);
    this.lastCursor = answer.cursor;
  }
  protected refusal(status: number, text: string, headers: http.IncomingHttpHeaders): Ending {
    let body: { errorCode?: unknown; message?: unknown } = {};
    try {
      body = JSON.parse(text);
    } catch {
      this.protocolErrors.push(`refusal body is not JSON: ${text.slice(0, 200)}`);
    }
    const keys = Object.keys(body).sort().join(',');
    if (keys !== 'errorCode,message' || typeof body.message !== 'string') this.protocolErrors.push(`refusal body: ${text.slice(0, 200)}`);
    const retryAfter = headers['retry-after'] === undefined ? {} : { retryAfter: String(headers['retry-after']) };
    return { reason: 'refused', status, errorCode: String(body.errorCode), connectionClose: headers.connection === 'close', ...retryAfter };
  }
  /** Brings the state up to date with what arrived (SSE reads its event list lazily). */
  protected sync(): void {}
  protected abstract stop(): void;
  protected release(): void {}
}

let pollClients = 0;

/** Long poll: one poll at a time, each with the last answer's cursor. The first has `hold=0`, so it answers at once. */
class LongPollSubscriber extends TransportSubscriber {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private current: http.ClientRequest | undefined;

  constructor(base: string, options: OpenOptions) {
    super('longpoll');
    void this.loop(base, options).finally(() => this.agent.destroy());
  }

  private async loop(base: string, options: OpenOptions): Promise<void> {
    // Without a cursor, a client never seen before (a new comeFrom) starts at "now", like SSE and WebSocket.
    const comeFrom = `transport-suite-${++pollClients}`;
    const hold = 5; // seconds, for each poll after the first
    while (!this.closing) {
      const cursor = this.lastCursor ?? options.cursor;
      const extra: Record<string, string> = this.isReady ? { hold: String(hold) } : { hold: '0' };
      if (cursor === undefined) extra.comeFrom = comeFrom;
      let answer: { status: number; headers: http.IncomingHttpHeaders; text: string };
      try {
        answer = await this.get(base + subscribePath('longpoll', { ...options, cursor }, extra), (hold + 10) * 1000);
      } catch (error) {
        this.setEnd(this.closing ? { reason: 'closed' } : { reason: 'network', error: String(error) });
        return;
      }
      if (this.closing) break;
      if (answer.status !== 200) {
        this.setEnd(this.refusal(answer.status, answer.text, answer.headers));
        return;
      }
      const body = JSON.parse(answer.text) as PollResponse;
      this.take(body);
      this.isReady = true;
      const connectionClose = answer.headers.connection === 'close';
      if (body.superseded === true) {
        this.setEnd({ reason: 'superseded', lastAnswer: body, connectionClose });
        return;
      }
      // Section 4: a poll ended by a shutdown is answered with c: 0 and Connection: close.
      if (connectionClose) {
        this.setEnd({ reason: body.c === 0 ? 'shutdown' : 'closed', lastAnswer: body, connectionClose });
        return;
      }
    }
    this.setEnd({ reason: 'closed' });
  }

  private get(url: string, timeoutMs: number): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
        res.on('close', () => {
          if (!res.complete) reject(new Error('answer cut off'));
        });
      });
      this.current = req;
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
    });
  }

  protected stop(): void {
    this.current?.destroy();
    this.agent.destroy();
  }
}

/** Server-Sent Events, read with the suite's SSE reader. */
class SseSubscriber extends TransportSubscriber {
  private stream: SseStream | undefined;
  private read = 0;

  constructor(base: string, options: OpenOptions) {
    super('sse');
    openSse(base + subscribePath('sse', options)).then(
      (stream) => {
        this.stream = stream;
        if (this.closing) stream.close();
        if (stream.status !== 200) {
          this.setEnd(this.refusal(stream.status, stream.raw, stream.headers));
          return;
        }
        void stream.ended.then(() => {
          this.sync();
          this.setEnd(this.closing ? { reason: 'closed' } : { reason: 'network', error: 'stream ended without an end event' });
        });
      },
      (error: unknown) => this.setEnd({ reason: this.closing ? 'closed' : 'network', error: String(error) }),
    );
  }

  protected override sync(): void {
    const stream = this.stream;
    if (stream?.status !== 200) return;
    for (; this.read < stream.events.length; this.read++) {
      const event = stream.events[this.read];
      if (!event) continue;
      if (event.id !== undefined) this.lastCursor = event.id;
      if (event.event === 'message') {
        if (event.id === undefined) this.protocolErrors.push(`message event without id: ${event.data}`);
        this.received.push(JSON.parse(event.data) as PnsMessage);
      } else if (event.event === 'gap') {
        if (event.data !== '{"gap":true}') this.protocolErrors.push(`gap event data: ${event.data}`);
        this.gapsAt.push(this.received.length);
      } else if (event.event === 'live') {
        this.isReady = true;
      } else if (event.event === 'end') {
        const data = JSON.parse(event.data) as { reason?: string; errorCode?: string };
        const known = ['shutdown', 'superseded', 'expired', 'error'];
        const reason = (known.includes(String(data.reason)) ? data.reason : 'closed') as EndReason;
        this.setEnd({ reason, sseEnd: { ...data, ...(event.id ? { id: event.id } : {}), ...(event.retry ? { retry: event.retry } : {}) } });
      } else if (event.event === 'ping') {
        // The heartbeat, which a subscriber held past PNS_SSE_HEARTBEAT_SECONDS sees: nothing to record.
      } else if (event.event !== 'id') {
        this.protocolErrors.push(`unknown event ${event.event}`);
      }
    }
  }

  protected stop(): void {
    this.stream?.close();
  }
}

const wsEndReasons: Record<number, EndReason> = { 1001: 'shutdown', 4000: 'superseded', 4001: 'expired', 4002: 'error' };

/** WebSocket with the `ws` package; a refused upgrade is read through 'unexpected-response'. */
class WebSocketSubscriber extends TransportSubscriber {
  private readonly socket: WebSocket;
  private lastFrame: PollResponse | undefined;
  private refused = false;

  constructor(base: string, options: OpenOptions) {
    super('websocket');
    this.socket = new WebSocket(base.replace(/^http/, 'ws') + subscribePath('websocket', options), { handshakeTimeout: 5000 });
    this.socket.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) this.protocolErrors.push('binary frame');
      let frame: PollResponse;
      try {
        frame = JSON.parse(data.toString()) as PollResponse;
      } catch {
        this.protocolErrors.push(`frame is not JSON: ${data.toString().slice(0, 200)}`);
        return;
      }
      this.take(frame);
      this.lastFrame = frame;
      // Section 13: a c: 0 frame (not a gap) says everything retained was sent.
      if (frame.c === 0 && frame.gap !== true && frame.superseded !== true) this.isReady = true;
    });
    this.socket.on('unexpected-response', (_request, response: http.IncomingMessage) => {
      this.refused = true;
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => this.setEnd(this.refusal(response.statusCode ?? 0, text, response.headers)));
    });
    this.socket.on('close', (code: number, reason: Buffer) => {
      if (this.refused) return;
      const ending: Ending = {
        reason: this.closing ? 'closed' : (wsEndReasons[code] ?? 'closed'),
        wsCode: code,
        wsReason: reason.toString(),
      };
      if (this.lastFrame) ending.lastAnswer = this.lastFrame;
      this.setEnd(ending);
    });
    this.socket.on('error', (error: Error) => {
      if (!this.refused) this.setEnd({ reason: this.closing ? 'closed' : 'network', error: String(error) });
    });
  }

  protected stop(): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
    else this.socket.terminate();
  }

  protected override release(): void {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.terminate();
  }
}

/** Opens a subscription on `base` (`http://host:port`) with `transport`; it runs until closed or ended by the server. */
export function openSubscriber(transport: TransportName, base: string, options: OpenOptions): TransportSubscriber {
  if (transport === 'longpoll') return new LongPollSubscriber(base, options);
  if (transport === 'sse') return new SseSubscriber(base, options);
  return new WebSocketSubscriber(base, options);
}
