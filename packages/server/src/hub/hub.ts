import { PnsError } from '@pns/protocol';
import { revokedByUser } from '../auth/revocations.js';
import type { Broker, PublishEvent } from '../broker/broker.js';
import { type Delivery, type EndReason, Subscription, type SubscriptionHost, type SubscriptionSpec } from './subscription.js';

/**
 * How long the hub remembers a revocation for subscriptions being opened: longer than planning one takes (a
 * session check, then reads that may wait up to Redis's 5 s command timeout).
 */
const revocationMemoryMs = 30_000;

/** How soon a session store that could not answer at a stream's expiry is asked again. */
const sessionRetryMs = 5000;

export interface HubOptions {
  /** Most messages in one delivery; the rest follow on the next poll. */
  pageLimit: number;
  /** Most live subscriptions per session token; one more supersedes the oldest. */
  maxPerSession: number;
  /** Most live subscriptions per user, all sessions together; more are refused. Default: no cap. */
  maxPerUser?: number;
  /** Most live subscriptions per client address; more are refused. 0 or absent: no cap. */
  maxPerAddress?: number;
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
  /** Users and client addresses with a subscription (what the caps count). */
  users: number;
  addresses: number;
}

/** Counts down, forgetting a key at zero, so the counts never outgrow the live subscriptions. */
function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
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
  /** Revocations of the last `revocationMemoryMs`, by user: an open looks at its own user's only. */
  private readonly recentRevocations = new Map<string, { at: number; matchesSession: ((sessionKey: string) => boolean) | undefined }[]>();
  /** Each user's subscriptions: the per-user cap counts them, and a revocation ends them without a scan of all. */
  private readonly byUser = new Map<string, Set<Subscription>>();
  private readonly byAddress = new Map<string, number>();
  private readonly maxPerUser: number;
  private readonly maxPerAddress: number;
  private draining = false;

  constructor(broker: Broker, options: HubOptions, events: HubEvents = {}) {
    this.broker = broker;
    this.pageLimit = options.pageLimit;
    this.maxPerSession = options.maxPerSession;
    this.maxPerUser = options.maxPerUser ?? Number.POSITIVE_INFINITY;
    this.maxPerAddress = options.maxPerAddress || Number.POSITIVE_INFINITY;
    this.events = events;
  }

  /**
   * Refuses, with TOO_MANY_CONNECTIONS, a subscription beyond the user's or the address's cap. One that will
   * supersede another of its session (the session is at its own cap) takes that one's place, so it passes.
   */
  admit(sessionKey: string, userId: string, address: string | undefined): void {
    if ((this.bySession.get(sessionKey)?.length ?? 0) >= this.maxPerSession) return;
    const over =
      (this.byUser.get(userId)?.size ?? 0) >= this.maxPerUser
        ? 'user'
        : address !== undefined && (this.byAddress.get(address) ?? 0) >= this.maxPerAddress
          ? 'address'
          : undefined;
    // A few seconds, spread so that refused clients do not come back together.
    if (over)
      throw new PnsError('TOO_MANY_CONNECTIONS', `Too many connections for this ${over}; retry later.`, {
        retryAfter: 5 + Math.floor(Math.random() * 11),
      });
  }

  /**
   * Opens a subscription: listens first, then reads, so nothing published in
   * between is missed. A subscription opened while draining ends at once.
   */
  open(spec: SubscriptionSpec): Subscription {
    const subscription = new Subscription(this, spec);
    this.all.add(subscription);
    this.events.changed?.(spec.transport, 1);
    const ofUser = this.byUser.get(spec.userId);
    if (ofUser) ofUser.add(subscription);
    else this.byUser.set(spec.userId, new Set([subscription]));
    if (spec.address !== undefined) this.byAddress.set(spec.address, (this.byAddress.get(spec.address) ?? 0) + 1);
    for (const channel of spec.channels) this.listen(channel, subscription);
    const session = this.bySession.get(spec.sessionKey);
    if (session) session.push(subscription);
    else this.bySession.set(spec.sessionKey, [subscription]);
    if (this.draining) {
      this.end(subscription, 'shutdown');
      return subscription;
    }
    if (this.revokedMeanwhile(spec)) {
      this.end(subscription, 'revoked');
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

  /** The live sessions on this node, once each: what to check again when revocations may have been missed. */
  liveSessions(): { userId: string; issuedAt: number | undefined; sessionKey: string }[] {
    return [...this.bySession.values()].flatMap((subscriptions) => {
      const spec = subscriptions[0]?.spec;
      return spec ? [{ userId: spec.userId, issuedAt: spec.issuedAt, sessionKey: spec.sessionKey }] : [];
    });
  }

  /**
   * Ends, with `revoked`, this node's subscriptions of a user, or of one session token of theirs. The revocation
   * is remembered a little while: a subscription being opened meanwhile (its session checked just before) ends too.
   */
  revoke(user: string, matchesSession?: (sessionKey: string) => boolean): number {
    const now = Date.now();
    for (const [revokedUser, revocations] of this.recentRevocations) {
      const live = revocations.filter((revocation) => now - revocation.at < revocationMemoryMs);
      if (live.length > 0) this.recentRevocations.set(revokedUser, live);
      else this.recentRevocations.delete(revokedUser);
    }
    const ofUser = this.recentRevocations.get(user);
    if (ofUser) ofUser.push({ at: now, matchesSession });
    else this.recentRevocations.set(user, [{ at: now, matchesSession }]);
    let ended = 0;
    for (const subscription of [...(this.byUser.get(user) ?? [])]) {
      if (matchesSession && !matchesSession(subscription.spec.sessionKey)) continue;
      this.end(subscription, 'revoked');
      ended++;
    }
    return ended;
  }

  stats(): HubStats {
    return {
      subscriptions: this.all.size,
      channels: this.byChannel.size,
      sessions: this.bySession.size,
      users: this.byUser.size,
      addresses: this.byAddress.size,
    };
  }

  detach(subscription: Subscription): void {
    if (!this.all.delete(subscription)) return;
    this.events.changed?.(subscription.spec.transport, -1);
    const ofUser = this.byUser.get(subscription.spec.userId);
    ofUser?.delete(subscription);
    if (ofUser?.size === 0) this.byUser.delete(subscription.spec.userId);
    if (subscription.spec.address !== undefined) decrement(this.byAddress, subscription.spec.address);
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

  private revokedMeanwhile(spec: SubscriptionSpec): boolean {
    const revocations = this.recentRevocations.get(spec.userId);
    if (revocations === undefined) return false;
    const now = Date.now();
    return revocations.some(
      (revocation) =>
        now - revocation.at < revocationMemoryMs &&
        (revocation.matchesSession ? revocation.matchesSession(spec.sessionKey) : revokedByUser(spec, revocation.at)),
    );
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
