import type { Broker, PublishEvent } from '../broker/broker.js';
import { type Delivery, type EndReason, Subscription, type SubscriptionHost, type SubscriptionSpec } from './subscription.js';

/** How soon a session store that could not answer at a stream's expiry is asked again. */
const sessionRetryMs = 5000;

export interface HubOptions {
  /** Most messages in one delivery; the rest follow on the next poll. */
  pageLimit: number;
  /** Most live subscriptions per session token; one more supersedes the oldest. */
  maxPerSession: number;
}

export interface HubEvents {
  delivered?(subscription: Subscription, delivery: Delivery): void;
  /** Called when a subscription opens or closes. */
  changed?(transport: string, delta: 1 | -1): void;
}

export interface HubStats {
  subscriptions: number;
  channels: number;
  sessions: number;
}

/**
 * Knows who listens to what on this node: subscriptions by channel and by
 * session, one broker subscription per channel in use (reference-counted),
 * and fan-out of each publish to the subscriptions of its channels.
 */
export class Hub implements SubscriptionHost {
  readonly broker: Broker;
  readonly pageLimit: number;
  private readonly maxPerSession: number;
  private readonly events: HubEvents;
  private readonly byChannel = new Map<string, { subscriptions: Set<Subscription>; unsubscribe: () => void }>();
  private readonly bySession = new Map<string, Subscription[]>();
  private readonly all = new Set<Subscription>();
  private draining = false;

  constructor(broker: Broker, options: HubOptions, events: HubEvents = {}) {
    this.broker = broker;
    this.pageLimit = options.pageLimit;
    this.maxPerSession = options.maxPerSession;
    this.events = events;
  }

  /**
   * Opens a subscription: listens first, then reads, so nothing published in
   * between is missed. A subscription opened while draining ends at once.
   */
  open(spec: SubscriptionSpec): Subscription {
    const subscription = new Subscription(this, spec);
    this.all.add(subscription);
    this.events.changed?.(spec.transport, 1);
    for (const channel of spec.channels) this.listen(channel, subscription);
    const session = this.bySession.get(spec.sessionKey);
    if (session) session.push(subscription);
    else this.bySession.set(spec.sessionKey, [subscription]);
    if (this.draining) {
      this.end(subscription, 'shutdown');
      return subscription;
    }
    const sessionSubscriptions = this.bySession.get(spec.sessionKey) as Subscription[];
    while (sessionSubscriptions.length > this.maxPerSession) {
      this.end(sessionSubscriptions[0] as Subscription, 'superseded');
    }
    if (spec.expiresAt !== undefined) this.endAtExpiry(subscription, spec.expiresAt);
    subscription.catchUp();
    return subscription;
  }

  /**
   * Ends every subscription with `shutdown`, spread evenly over `windowMs` so
   * clients do not all reconnect in the same instant. New ones end at once.
   */
  async drain(windowMs: number): Promise<void> {
    this.draining = true;
    const subscriptions = [...this.all];
    if (subscriptions.length === 0) return;
    const step = windowMs / subscriptions.length;
    await new Promise<void>((resolve) => {
      let index = 0;
      const started = Date.now();
      const tick = (): void => {
        // End as many as are due by now, so a busy event loop still finishes inside the window.
        const due = Math.min(subscriptions.length, Math.floor((Date.now() - started) / step) + 1);
        for (; index < due; index++) this.end(subscriptions[index] as Subscription, 'shutdown');
        if (index >= subscriptions.length) resolve();
        else setTimeout(tick, Math.max(1, Math.min(step, 50)));
      };
      tick();
    });
  }

  /** Ends, with `revoked`, this node's subscriptions of a user, or of one session token of theirs. */
  revoke(user: string, matchesSession?: (sessionKey: string) => boolean): number {
    let ended = 0;
    for (const subscription of [...this.all]) {
      const { spec } = subscription;
      if (spec.userId !== user || (matchesSession && !matchesSession(spec.sessionKey))) continue;
      this.end(subscription, 'revoked');
      ended++;
    }
    return ended;
  }

  stats(): HubStats {
    return { subscriptions: this.all.size, channels: this.byChannel.size, sessions: this.bySession.size };
  }

  detach(subscription: Subscription): void {
    if (!this.all.delete(subscription)) return;
    this.events.changed?.(subscription.spec.transport, -1);
    for (const channel of subscription.spec.channels) this.unlisten(channel, subscription);
    const key = subscription.spec.sessionKey;
    const session = this.bySession.get(key);
    if (session) {
      const index = session.indexOf(subscription);
      if (index >= 0) session.splice(index, 1);
      if (session.length === 0) this.bySession.delete(key);
    }
  }

  delivered(subscription: Subscription, delivery: Delivery): void {
    this.events.delivered?.(subscription, delivery);
  }

  failed(subscription: Subscription, error: unknown): void {
    subscription.close();
    subscription.spec.sink.fail(error);
  }

  private end(subscription: Subscription, reason: EndReason): void {
    if (subscription.closed) return; // answered or gone since the drain took its snapshot
    subscription.close();
    subscription.spec.sink.end(reason, subscription.cursor());
  }

  /**
   * Ends the subscription with `expired` when its session does, unless the session store says it was
   * extended meanwhile. A store that cannot answer is asked again a little later: an outage is no expiry.
   */
  private endAtExpiry(subscription: Subscription, at: number): void {
    const { renewSession } = subscription.spec;
    subscription.endAt(at, () => {
      if (!renewSession) {
        this.end(subscription, 'expired');
        return;
      }
      renewSession().then(
        (next) => {
          if (next === undefined) return; // the session no longer expires
          if (next > Date.now()) this.endAtExpiry(subscription, next);
          else this.end(subscription, 'expired');
        },
        (error: unknown) => {
          const code = (error as { code?: unknown }).code;
          if (code === 'SESSION_EXPIRED' || code === 'SESSION_INVALID') this.end(subscription, 'expired');
          else this.endAtExpiry(subscription, Date.now() + sessionRetryMs);
        },
      );
    });
  }

  private listen(channel: string, subscription: Subscription): void {
    let entry = this.byChannel.get(channel);
    if (!entry) {
      const subscriptions = new Set<Subscription>();
      const unsubscribe = this.broker.subscribe(
        channel,
        (event: PublishEvent) => {
          for (const listener of subscriptions) listener.onEvent(event);
        },
        () => {
          for (const listener of subscriptions) listener.catchUp();
        },
      );
      entry = { subscriptions, unsubscribe };
      this.byChannel.set(channel, entry);
    }
    entry.subscriptions.add(subscription);
  }

  private unlisten(channel: string, subscription: Subscription): void {
    const entry = this.byChannel.get(channel);
    if (!entry) return;
    entry.subscriptions.delete(subscription);
    if (entry.subscriptions.size === 0) {
      entry.unsubscribe();
      this.byChannel.delete(channel);
    }
  }
}
