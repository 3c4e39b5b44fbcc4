import { encodeCursor, errorCatalog } from '@pns/protocol';
import { revokedMessage } from '../auth/revocations.js';
import type { RawExchange, RawQuery } from '../http/raw-routes.js';
import { forEachPositions } from '../hub/delivery-positions.js';
import type { Delivery, EndReason, SubscriberSink, Subscription } from '../hub/subscription.js';
import { ConnectionSweep } from './connection-sweep.js';
import { parseSubscribeQuery, planSubscription } from './subscribe-request.js';
import type { Transport, TransportContext } from './transport.js';

/** A stream whose unsent output passes this is closed; its client resumes from its last event id. */
export const sseMaxBufferedBytes = 1 << 20;
/** Longest `Last-Event-ID` taken as a cursor (a cursor of 32 channels is far shorter). */
const maxLastEventIdLength = 4096;

/**
 * `GET /pns/sse`: Server-Sent Events. The same query as `/pns/poll`; each
 * message is an event whose `id:` is the cursor after it and whose `data:` is
 * the message JSON, so a browser's EventSource resumes exactly where it
 * stopped (`Last-Event-ID`). JSON never holds a raw CR or LF, so user data
 * cannot break an event apart. See docs/protocol.md.
 */
export function createSseTransport(): Transport {
  const streams = new ConnectionSweep<EventStream>();
  return {
    name: 'sse',
    register(context: TransportContext): void {
      context.rawRoutes.get('/pns/sse', (exchange, query) => openStream(context, exchange, query, streams));
      // An event, not a comment: a client can see it, and so tell a quiet stream from a dead one.
      streams.start(context.config.sseHeartbeatSeconds * 1000, (stream) => stream.write('event: ping\ndata: {}\n\n'));
    },
    close(): void {
      streams.stop();
    },
  };
}

async function openStream(
  context: TransportContext,
  exchange: RawExchange,
  rawQuery: RawQuery,
  streams: ConnectionSweep<EventStream>,
): Promise<void> {
  const query = parseSubscribeQuery(rawQuery, context.config);
  const lastEventId = exchange.request.headers['last-event-id'];
  // EventSource sends the id of the last event it saw when it reconnects; the URL still has the first cursor.
  if (typeof lastEventId === 'string' && lastEventId !== '' && lastEventId.length <= maxLastEventIdLength) query.cursor = lastEventId;
  const plan = await planSubscription(query, context, { rememberCursorless: false, address: context.clientAddress(exchange.request) });
  if (exchange.done) return;
  const stream = new EventStream(context, exchange, streams);
  stream.subscription = context.hub.open({
    ...plan.spec,
    transport: 'sse',
    oneShot: false,
    positionsPerEntry: true,
    expiresAt: plan.session.expiresAt,
    renewSession: async () => (await context.sessions.resolve(query.sid)).expiresAt,
    sink: stream,
  });
}

/** One open event stream: the hub's sink for it. */
class EventStream implements SubscriberSink {
  subscription: Subscription | undefined;
  finished = false;

  constructor(
    private readonly context: TransportContext,
    private readonly exchange: RawExchange,
    private readonly streams: ConnectionSweep<EventStream>,
  ) {
    exchange.stream(200, 'text/event-stream; charset=utf-8');
    streams.add(this);
    exchange.response.on('close', () => this.closed());
  }

  deliver(delivery: Delivery): void {
    const { renderer } = this.context;
    const empty = delivery.entries.length === 0;
    // A gap alone carries the position after it, so a stream cut right after it does not report it again.
    let out = !delivery.gap
      ? ''
      : empty
        ? `id: ${encodeCursor(delivery.positions, delivery.recentKeys)}\nevent: gap\ndata: {"gap":true}\n\n`
        : `event: gap\ndata: {"gap":true}\n\n`;
    const last = delivery.entries.length - 1;
    const recent = delivery.recentKeys ?? [];
    forEachPositions(delivery, (index, positions) => {
      const entry = delivery.entries[index];
      // An event's id remembers the messages up to it, not those after it (they are appended last).
      const keys = recent.slice(0, Math.max(0, recent.length - (last - index)));
      if (entry) out += `id: ${encodeCursor(positions, keys)}\ndata: ${renderer.messageJson(entry)}\n\n`;
    });
    if (empty && !delivery.gap) out += `id: ${encodeCursor(delivery.positions, recent)}\n\n`;
    this.write(out);
  }

  end(reason: EndReason, cursor: string): void {
    if (reason === 'expired' || reason === 'revoked') {
      // A revoked session ends as an expired one: for the client both mean "get a new token".
      const message = reason === 'revoked' ? revokedMessage : errorCatalog.SESSION_EXPIRED.message;
      this.finish(`event: end\ndata: ${JSON.stringify({ reason: 'expired', errorCode: 'SESSION_EXPIRED', message })}\n\n`);
      return;
    }
    // After a shutdown, browsers come back spread over a few seconds rather than all at once.
    const retry = reason === 'shutdown' ? `retry: ${1000 + Math.floor(Math.random() * 4000)}\n` : '';
    this.finish(`id: ${cursor}\n${retry}event: end\ndata: {"reason":"${reason}"}\n\n`);
  }

  fail(error: unknown): void {
    this.exchange.logger.warn({ err: error }, 'sse stream failed');
    const { message } = errorCatalog.BACKEND_UNAVAILABLE;
    this.finish(`event: end\ndata: ${JSON.stringify({ reason: 'error', errorCode: 'BACKEND_UNAVAILABLE', message })}\n\n`);
  }

  /**
   * Everything retained was sent: the current position becomes the last event id, so a reconnect misses nothing,
   * and a `live` event tells the client that events reach it (a buffering proxy would hold this one back) and how
   * often to expect a `ping` event.
   */
  waiting(): void {
    const subscription = this.subscription as Subscription;
    const heartbeat = this.context.config.sseHeartbeatSeconds;
    this.write(`id: ${subscription.cursor()}\nevent: live\ndata: {"heartbeat":${heartbeat}}\n\n`);
  }

  write(text: string): void {
    if (this.finished) return;
    const response = this.exchange.response;
    response.write(text);
    // A client that does not read: close it rather than buffer without bound; it resumes from its last id.
    if (response.writableLength > sseMaxBufferedBytes) {
      this.subscription?.close();
      response.destroy();
    }
  }

  private finish(text: string): void {
    if (this.finished) return;
    this.write(text);
    this.finished = true;
    this.exchange.response.end();
  }

  private closed(): void {
    this.finished = true;
    this.streams.delete(this);
    this.subscription?.close();
  }
}
