import { encodeCursor, idKey, maxCursorRecent, type StreamPosition } from '@pns/protocol';
import type { Broker, BrokerEntry, PublishEvent, ReadResult } from '../broker/broker.js';

/** Delivered ids a subscription remembers where copies arrive apart; its cursor carries the last `maxCursorRecent`. */
const recentKeyLimit = 2 * maxCursorRecent;
/** The longest delay a Node.js timer holds (about 24.8 days): a longer one fires after 1 ms instead. */
const maxTimerMs = 2 ** 31 - 1;

/** What a subscriber receives: messages in order (each once), its new positions, and whether it missed some. */
export interface Delivery {
  entries: BrokerEntry[];
  positions: ReadonlyMap<string, StreamPosition>;
  gap: boolean;
  /** Set for a subscription that asked (`positionsPerEntry`) when there are several entries. */
  steps?: DeliverySteps;
  /**
   * Where the broker splits copies of a message: keys of the ids delivered lately, this delivery's last,
   * for the cursor (`encodeCursor`), so a copy arriving after a reconnect is not delivered again.
   */
  recentKeys?: readonly string[];
}

/**
 * The positions between the entries of one delivery, for transports that
 * give each message its own resume point (an SSE event id). See
 * `forEachPositions` in delivery-positions.ts.
 */
export interface DeliverySteps {
  /** Where each channel stands before the first entry, for the channels that any entry moves; the others stand at `positions`. */
  base: ReadonlyMap<string, StreamPosition>;
  /** Per entry, the channel positions it moves: its own, and those of its copies on other channels. */
  moves: (readonly [string, StreamPosition])[][];
}

/** Why the hub ended a subscription before the transport did. */
/** `revoked`: the session was revoked (`POST /pns/revoke`); the client is told SESSION_EXPIRED. */
export type EndReason = 'superseded' | 'shutdown' | 'expired' | 'revoked';

/** The transport's side of a subscription: how it writes to its client. */
export interface SubscriberSink {
  /** Messages (or a bare gap) for the client. A one-shot subscription is already closed when this is called. */
  deliver(delivery: Delivery): void;
  /** The hub ended the subscription (it is already closed); `cursor` is where it stands. */
  end(reason: EndReason, cursor: string): void;
  /** A broker read failed; the subscription is already closed. */
  fail(error: unknown): void;
  /** The subscription has read everything retained and now waits for publishes (called once). */
  waiting?(): void;
}

export interface SubscriptionSpec {
  /** Groups the subscriptions of one session token, for the per-session cap; never logged or stored. */
  sessionKey: string;
  /** The session's user, whose revocation ends the subscription. */
  userId: string;
  /** When the session's token was issued (epoch ms), if known: a user's revocation ends the ones issued before. */
  issuedAt?: number | undefined;
  /** The client's address (see http/client-address.ts), for the per-address cap. */
  address?: string;
  transport: string;
  /** Channels in preference order: a message sent to several is labelled with the first. */
  channels: readonly string[];
  /** Start position for every channel; the subscription takes this map over and advances it. */
  positions: Map<string, StreamPosition>;
  /** The start position itself could not be served (unknown cursor version, expired client position). */
  gap: boolean;
  /**
   * Keys of the ids this client was given lately (from its cursor). Used only where the broker splits
   * copies of a message: a copy arriving later is then not delivered again.
   */
  recentKeys?: readonly string[];
  /** Long polling: close after the first delivery. */
  oneShot: boolean;
  /** Deliveries carry `steps`, so the transport can give each message its own resume point (SSE). */
  positionsPerEntry?: boolean;
  /**
   * When the session's token stops being accepted (epoch ms): the hub ends the subscription then with `expired`.
   * Streams set it; a long poll caps its hold at that time instead.
   */
  expiresAt?: number | undefined;
  /**
   * Asks the session store again when `expiresAt` comes: resolves with the session's new expiry (a session
   * the web application extended, in Redis), or rejects. Without it the subscription ends at `expiresAt`.
   */
  renewSession?: () => Promise<number | undefined>;
  sink: SubscriberSink;
}

/** The hub's hooks into a subscription's life. */
export interface SubscriptionHost {
  readonly broker: Broker;
  readonly pageLimit: number;
  detach(subscription: Subscription): void;
  delivered(subscription: Subscription, delivery: Delivery): void;
  failed(subscription: Subscription, error: unknown): void;
}

/**
 * One listener's state: its positions per channel, independent of transport.
 * It reads what is retained after its positions, then follows publishes
 * directly while they come in order, and reads again when one did not.
 */
export class Subscription {
  readonly spec: SubscriptionSpec;
  private readonly host: SubscriptionHost;
  private readonly positionMap: Map<string, StreamPosition>;
  private pendingGap: boolean;
  private reading = false;
  private dirty = false;
  private lastEvent: PublishEvent | undefined;
  private hasWaited = false;
  private expiry: NodeJS.Timeout | undefined;
  /** Keys of delivered ids, oldest first; only where the broker splits copies (see `Broker.splitsCopies`). */
  private readonly recent: Set<string> | undefined;
  closed = false;

  constructor(host: SubscriptionHost, spec: SubscriptionSpec) {
    this.host = host;
    this.spec = spec;
    this.positionMap = spec.positions;
    this.pendingGap = spec.gap;
    if (host.broker.splitsCopies) this.recent = new Set(spec.recentKeys);
  }

  get positions(): ReadonlyMap<string, StreamPosition> {
    return this.positionMap;
  }

  /** Where the subscription stands, as a cursor for its client. */
  cursor(): string {
    return encodeCursor(this.positionMap, this.recent ? [...this.recent] : []);
  }

  /** Reads everything retained after the positions; delivers it, or waits for publishes. */
  catchUp(): void {
    if (this.closed) return;
    if (this.reading) {
      this.dirty = true;
      return;
    }
    this.reading = true;
    this.dirty = false;
    this.readPage().then(
      ({ delivery, more }) => {
        this.reading = false;
        if (this.closed) return;
        if (delivery) this.deliver(delivery);
        // A page cut at the limit: a streaming subscription reads on before following publishes.
        if (more) this.dirty = true;
        if (this.dirty) this.catchUp();
        else if (!this.closed && !this.hasWaited) {
          this.hasWaited = true;
          this.spec.sink.waiting?.();
        }
      },
      (error: unknown) => {
        this.reading = false;
        if (!this.closed) this.host.failed(this, error);
      },
    );
  }

  /** A publish to one of this subscription's channels. */
  onEvent(event: PublishEvent): void {
    if (this.closed || event === this.lastEvent) return; // told once per channel it was sent to
    this.lastEvent = event;
    if (this.reading) {
      this.dirty = true;
      return;
    }
    let deliverOn: string | undefined;
    const advanced = new Map<string, StreamPosition>();
    for (const channel of this.spec.channels) {
      const published = event.entries.find((entry) => entry.channel === channel);
      const position = this.positionMap.get(channel);
      if (!published || !position) continue;
      const standing = this.host.broker.standing(position, published);
      if (standing === 'behind') {
        this.catchUp();
        return;
      }
      if (standing === 'next') {
        advanced.set(channel, published.position);
        deliverOn ??= channel;
      }
    }
    if (deliverOn === undefined) return;
    for (const [channel, position] of advanced) this.positionMap.set(channel, position);
    if (this.recent?.has(idKey(event.message.id))) return; // a copy of a message delivered from another channel
    const entry: BrokerEntry = {
      channel: deliverOn,
      position: advanced.get(deliverOn) as StreamPosition,
      order: event.order,
      message: event.message,
    };
    this.deliver({ entries: [entry], positions: this.positionMap, gap: this.takeGap() });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.expiry) clearTimeout(this.expiry);
    this.host.detach(this);
  }

  /**
   * Calls `end` at `at` (epoch ms) unless closed before. A token may be good for longer than a timer can wait
   * (a year, or `exp` 1e308, which is Infinity here), so a far `at` is reached in steps.
   */
  endAt(at: number, end: () => void): void {
    if (this.closed) return;
    const wait = at - Date.now();
    this.expiry = wait > maxTimerMs ? setTimeout(() => this.endAt(at, end), maxTimerMs) : setTimeout(end, Math.max(0, wait));
  }

  private deliver(delivery: Delivery): void {
    if (this.spec.oneShot) this.close();
    if (this.recent) {
      for (const entry of delivery.entries) this.recent.add(idKey(entry.message.id));
      for (const key of this.recent) {
        if (this.recent.size <= recentKeyLimit) break;
        this.recent.delete(key);
      }
      delivery.recentKeys = [...this.recent];
    }
    this.host.delivered(this, delivery);
    this.spec.sink.deliver(delivery);
  }

  private takeGap(): boolean {
    const gap = this.pendingGap;
    this.pendingGap = false;
    return gap;
  }

  /**
   * Reads every channel, merges by broker order, drops copies of one message
   * sent to several channels, and cuts at the page limit without letting any
   * channel's position pass an entry that was not delivered.
   */
  private async readPage(): Promise<{ delivery: Delivery | undefined; more: boolean }> {
    const { broker, pageLimit } = this.host;
    const channels = this.spec.channels;
    const reads = await Promise.all(
      channels.map((channel) => broker.read(channel, this.positionMap.get(channel) as StreamPosition, pageLimit)),
    );
    if (this.closed) return { delivery: undefined, more: false };
    let gap = this.takeGap();
    const merged: BrokerEntry[] = [];
    for (const read of reads) {
      gap ||= read.gap;
      merged.push(...read.entries);
    }
    merged.sort((a, b) => a.order - b.order); // stable: channel preference order breaks ties
    const taken = new Map<string, StreamPosition>();
    const ids = new Set<string>();
    const entries: BrokerEntry[] = [];
    // Copies of one message share its order, so they follow the copy that is delivered.
    const moves: [string, StreamPosition][][] | undefined = this.spec.positionsPerEntry ? [] : undefined;
    let cut = merged.length;
    for (let i = 0; i < merged.length; i++) {
      const entry = merged[i] as BrokerEntry;
      if (ids.has(entry.message.id) || this.recent?.has(idKey(entry.message.id))) {
        taken.set(entry.channel, entry.position);
        moves?.[moves.length - 1]?.push([entry.channel, entry.position]);
        continue;
      }
      if (entries.length === pageLimit) {
        cut = i;
        break;
      }
      ids.add(entry.message.id);
      entries.push(entry);
      taken.set(entry.channel, entry.position);
      moves?.push([[entry.channel, entry.position]]);
    }
    // Where the moved channels stood before this page: where the broker effectively read them from.
    const base = moves && entries.length > 1 ? new Map<string, StreamPosition>() : undefined;
    if (base) {
      channels.forEach((channel, index) => {
        if (taken.has(channel)) base.set(channel, (reads[index] as ReadResult).from);
      });
    }
    const leftOver = new Set<string>();
    for (let i = cut; i < merged.length; i++) leftOver.add((merged[i] as BrokerEntry).channel);
    let more = false;
    channels.forEach((channel, index) => {
      const read = reads[index] as ReadResult;
      const complete = !read.more && !leftOver.has(channel);
      more ||= !complete;
      this.positionMap.set(channel, complete ? read.to : (taken.get(channel) ?? read.from));
    });
    if (entries.length === 0 && !gap) return { delivery: undefined, more };
    const steps = base && moves ? { base, moves } : undefined;
    return { delivery: steps ? { entries, positions: this.positionMap, gap, steps } : { entries, positions: this.positionMap, gap }, more };
  }
}
