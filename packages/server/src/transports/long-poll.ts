import { encodeCursor, PnsError } from '@pns/protocol';
import { revokedMessage } from '../auth/revocations.js';
import type { RawExchange, RawQuery } from '../http/raw-routes.js';
import type { Delivery, EndReason, SubscriberSink, Subscription } from '../hub/subscription.js';
import { parseSubscribeQuery, planSubscription } from './subscribe-request.js';
import type { Transport, TransportContext } from './transport.js';

type Outcome = 'message' | 'gap' | 'timeout' | 'superseded' | 'shutdown';

/**
 * `GET /pns/poll`: answers at once with what is retained after the client's
 * position, else holds the request until a message arrives or the hold
 * ends. Each held request is a one-shot hub subscription. Served on
 * node:http directly (a `RawRoutes` route): see docs/performance.md.
 */
export const longPollTransport: Transport = {
  name: 'longpoll',
  register(context: TransportContext): void {
    context.rawRoutes.get('/pns/poll', (exchange, query) => startPoll(context, exchange, query));
  },
};

async function startPoll(context: TransportContext, exchange: RawExchange, rawQuery: RawQuery): Promise<void> {
  const query = parseSubscribeQuery(rawQuery, context.config);
  const plan = await planSubscription(query, context, { address: context.clientAddress(exchange.request) });
  if (exchange.done) return; // the client left while we authenticated
  // A hold never outlives the token, so the next poll reports SESSION_EXPIRED promptly.
  const expiresAt = plan.session.expiresAt;
  const holdMs = expiresAt === undefined ? query.holdMs : Math.min(query.holdMs, Math.max(0, expiresAt - Date.now()));
  const poll = new HeldPoll(context, exchange, holdMs, plan.clientKey);
  poll.subscription = context.hub.open({
    ...plan.spec,
    transport: longPollTransport.name,
    oneShot: true,
    sink: poll,
  });
  exchange.response.on('close', () => poll.closed());
}

/** Fires a hold's timer; a shared function, so a held poll carries no closure for it. */
function expireHold(poll: HeldPoll): void {
  poll.expire();
}

/** One held poll: the hub's sink for it, its hold timer, and what it answered. One object per poll. */
class HeldPoll implements SubscriberSink {
  subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private answeredCursor: string | undefined;

  constructor(
    private readonly context: TransportContext,
    private readonly exchange: RawExchange,
    private readonly holdMs: number,
    /** Set for a cursorless client: where its position is remembered once the answer is out. */
    private readonly clientKey: string | undefined,
  ) {}

  deliver(delivery: Delivery): void {
    const cursor = encodeCursor(delivery.positions, delivery.recentKeys);
    this.answer(this.context.renderer.pollBody(delivery, cursor), cursor, delivery.entries.length > 0 ? 'message' : 'gap');
  }

  end(reason: EndReason, cursor: string): void {
    if (reason === 'revoked') {
      this.stopTimer();
      if (this.exchange.done) return;
      this.context.metrics.polls.inc({ outcome: 'revoked' });
      this.exchange.fail(new PnsError('SESSION_EXPIRED', revokedMessage));
      return;
    }
    // A poll never gets `expired`: it sets no expiresAt, its hold already ends when the token does.
    this.answer(this.context.renderer.emptyBody(cursor, reason === 'superseded'), cursor, reason === 'expired' ? 'timeout' : reason);
  }

  fail(error: unknown): void {
    this.stopTimer();
    if (this.exchange.done) return;
    this.context.metrics.polls.inc({ outcome: 'error' });
    this.exchange.fail(error);
  }

  waiting(): void {
    this.timer = setTimeout(expireHold, this.holdMs, this);
  }

  expire(): void {
    this.timer = undefined;
    const subscription = this.subscription as Subscription;
    subscription.close();
    const cursor = subscription.cursor();
    this.answer(this.context.renderer.emptyBody(cursor), cursor, 'timeout');
  }

  /** The response closed: answered, or the client left while held. */
  closed(): void {
    this.stopTimer();
    const subscription = this.subscription as Subscription;
    if (!subscription.closed) {
      subscription.close();
      this.context.metrics.polls.inc({ outcome: 'aborted' });
    }
    // A cursorless client's answer counts as received once it was written out whole.
    if (this.clientKey !== undefined && this.answeredCursor !== undefined && this.exchange.response.writableFinished) {
      this.context.clientPositions.set(this.clientKey, this.answeredCursor).catch((error: unknown) => {
        // The client keeps polling; at worst its next poll repeats what this one delivered.
        this.exchange.logger.warn({ err: error }, 'client position not saved');
      });
    }
  }

  private answer(body: string, cursor: string, outcome: Outcome): void {
    this.stopTimer();
    if (this.exchange.done) return;
    this.answeredCursor = cursor;
    this.context.metrics.polls.inc({ outcome });
    this.exchange.json(200, body, outcome === 'shutdown');
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
