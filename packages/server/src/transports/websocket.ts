import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { encodeCursor, PnsError } from '@pns/protocol';
import { type WebSocket, WebSocketServer } from 'ws';
import type { RawQuery } from '../http/raw-routes.js';
import type { Delivery, EndReason, SubscriberSink, Subscription } from '../hub/subscription.js';
import { ConnectionSweep } from './connection-sweep.js';
import { parseSubscribeQuery, planSubscription } from './subscribe-request.js';
import type { Transport, TransportContext } from './transport.js';

/** Close codes pns uses besides the standard ones (docs/protocol.md section 13). */
export const wsCloseCodes = {
  /** The server is shutting down (standard "going away"). */
  shutdown: 1001,
  /** More connections for the session than its cap: this, the oldest, was closed. */
  superseded: 4000,
  /** The session's token stopped being accepted. */
  expired: 4001,
  /** The message store failed. */
  error: 4002,
  /** The client did not read: more than `wsMaxBufferedBytes` waited unsent. */
  slowConsumer: 4008,
} as const;

/** A connection whose unsent frames pass this is closed (`slowConsumer`); its client resumes from its cursor. */
export const wsMaxBufferedBytes = 1 << 20;
/** Clients send nothing pns reads; a larger frame closes the connection (1009). */
const maxClientFrameBytes = 1024;

/**
 * `GET /pns/ws`: WebSocket. The same query, auth and positions as
 * `/pns/poll`; every server frame is a poll answer, `{"c","msg","cursor"}`
 * (with `gap` when set), so a client resumes by reconnecting with the last
 * cursor. One timer pings every connection and closes those that did not
 * answer the previous ping.
 */
export function createWebSocketTransport(): Transport {
  const sockets = new ConnectionSweep<SocketSubscriber>();
  const server = new WebSocketServer({ noServer: true, maxPayload: maxClientFrameBytes, perMessageDeflate: false });
  return {
    name: 'websocket',
    register(context: TransportContext): void {
      // ws answers a handshake it cannot accept (a bad Sec-WebSocket-Key, Version or Protocol, an Upgrade that
      // is not only `websocket`) with a text/html 400 of its own; with a listener, it hands the socket over.
      server.on('wsClientError', (error, socket, request) => {
        context.rawRoutes.failUpgrade(request, socket, new PnsError('BAD_REQUEST', `Invalid WebSocket handshake: ${error.message}.`));
      });
      context.rawRoutes.upgrade('/pns/ws', (request, socket, head, query) =>
        upgrade(context, server, sockets, request, socket, head, query),
      );
      context.rawRoutes.get('/pns/ws', (exchange) => {
        exchange.fail(new PnsError('BAD_REQUEST', '`/pns/ws` is a WebSocket endpoint: send an upgrade request.'));
      });
      sockets.start(context.config.wsPingSeconds * 1000, (subscriber) => subscriber.ping());
    },
    close(): void {
      sockets.stop();
      for (const subscriber of sockets) subscriber.socket.terminate();
      server.close();
    },
  };
}

async function upgrade(
  context: TransportContext,
  server: WebSocketServer,
  sockets: ConnectionSweep<SocketSubscriber>,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  rawQuery: RawQuery,
): Promise<void> {
  const query = parseSubscribeQuery(rawQuery, context.config);
  const plan = await planSubscription(query, context, { rememberCursorless: false, address: context.clientAddress(request) });
  if (socket.destroyed) return;
  server.handleUpgrade(request, socket, head, (ws) => {
    const subscriber = new SocketSubscriber(context, ws, sockets);
    subscriber.subscription = context.hub.open({
      ...plan.spec,
      transport: 'websocket',
      oneShot: false,
      expiresAt: plan.session.expiresAt,
      renewSession: async () => (await context.sessions.resolve(query.sid)).expiresAt,
      sink: subscriber,
    });
  });
}

/** One WebSocket connection: the hub's sink for it. */
class SocketSubscriber implements SubscriberSink {
  subscription: Subscription | undefined;
  closing = false;
  private alive = true;
  /** The first frame went out: from then on every ping comes with a frame the page can see. */
  private caughtUp = false;

  constructor(
    private readonly context: TransportContext,
    readonly socket: WebSocket,
    private readonly sockets: ConnectionSweep<SocketSubscriber>,
  ) {
    sockets.add(this);
    socket.on('pong', () => {
      this.alive = true;
    });
    // ws reports a client's protocol violation (a frame over the size limit, bad UTF-8, a reserved opcode) here,
    // once it has sent the close frame with its code and ended the socket; it destroys the socket itself if the
    // client never closes. Terminating here reset the connection over the client's unread bytes, and the client
    // lost the close frame (the documented 1009).
    socket.on('error', () => this.closed());
    socket.on('close', () => this.closed());
  }

  deliver(delivery: Delivery): void {
    this.send(this.context.renderer.pollBody(delivery, encodeCursor(delivery.positions, delivery.recentKeys)));
  }

  end(reason: EndReason, cursor: string): void {
    if (reason === 'expired' || reason === 'revoked') {
      this.close(wsCloseCodes.expired, 'SESSION_EXPIRED');
      return;
    }
    this.send(this.context.renderer.emptyBody(cursor, reason === 'superseded'));
    this.close(reason === 'shutdown' ? wsCloseCodes.shutdown : wsCloseCodes.superseded, reason);
  }

  fail(): void {
    this.close(wsCloseCodes.error, 'BACKEND_UNAVAILABLE');
  }

  /**
   * Everything retained was sent: the client learns where it stands, so a reconnect misses nothing, and how often
   * to expect a frame at the least (`heartbeat`, seconds).
   */
  waiting(): void {
    const subscription = this.subscription as Subscription;
    this.caughtUp = true;
    const heartbeat = `,"heartbeat":${this.context.config.wsPingSeconds}`;
    this.send(this.context.renderer.emptyBody(subscription.cursor(), false, heartbeat));
  }

  /**
   * Pings; a peer that did not answer the previous ping is gone (a dead network path, a frozen tab). A `c: 0`
   * frame goes with it, because browsers hide pings from pages: it is how a client sees that the stream is alive.
   */
  ping(): void {
    // A connection already closing (a slow consumer) is left to the close handshake and its timeout.
    if (this.closing) return;
    if (!this.alive) {
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
    const subscription = this.subscription;
    if (this.caughtUp && subscription && !subscription.closed) this.send(this.context.renderer.emptyBody(subscription.cursor()));
  }

  private send(frame: string): void {
    if (this.closing) return;
    this.socket.send(frame);
    if (this.socket.bufferedAmount > wsMaxBufferedBytes) {
      // Nothing more is queued: the close frame follows what is buffered, and ws cuts the
      // connection if the client has not read it within its close timeout. Memory stays bounded.
      this.subscription?.close();
      this.close(wsCloseCodes.slowConsumer, 'slow consumer');
    }
  }

  private close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.close(code, reason);
  }

  private closed(): void {
    this.closing = true;
    this.sockets.delete(this);
    this.subscription?.close();
  }
}
