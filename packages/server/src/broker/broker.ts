import type { MessageType, StreamPosition } from '@pns/protocol';

/**
 * The broker could not do its job (store unreachable, broker closed). Answered
 * as 503 BACKEND_UNAVAILABLE, so clients and publishers retry later.
 */
export class BrokerUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokerUnavailableError';
  }
}

/** A message as the broker stores it: the same for every channel it was sent to. */
export interface BrokerMessage {
  id: string;
  type: MessageType;
  /** Publish time, epoch ms. */
  ts: number;
  /** The message's `data`, serialized once at publish so fan-out never re-serializes it. */
  dataJson: string;
}

/** One message in one channel's stream. */
export interface BrokerEntry {
  channel: string;
  /** The position just after this entry: a reader that has it has seen this entry. */
  position: StreamPosition;
  /**
   * Sort key across channels of one broker: increasing within a channel, equal
   * for the copies of one message sent to several channels. Readers merge by it.
   */
  order: number;
  message: BrokerMessage;
}

export interface ReadResult {
  entries: BrokerEntry[];
  /** Where the read effectively started (differs from the asked position after a gap). */
  from: StreamPosition;
  /** After the last entry; the stream head when `more` is false. */
  to: StreamPosition;
  /** Something after the asked position is gone (evicted, expired, or another epoch). */
  gap: boolean;
  /** More entries exist after `to`. */
  more: boolean;
}

export interface PublishRequest {
  channels: string[];
  type: MessageType;
  dataJson: string;
  ttlSeconds: number;
  /** Publisher-chosen id; the broker makes one up when absent. */
  id: string | undefined;
  /** Who may reuse `id` idempotently (the publish key's identity). */
  scope: string;
  /** Digest of the request's content: the same id with another fingerprint is a conflict. */
  fingerprint: string;
}

export interface PublishOutcome {
  id: string;
  /** True when an earlier publish with this id was found and nothing new was stored. */
  duplicate: boolean;
}

/** One channel's part of a publish, as told to listeners. */
export interface PublishedEntry {
  channel: string;
  position: StreamPosition;
  /** The channel's head before this publish: a reader at or past it missed nothing. */
  previous: StreamPosition;
}

/** Told to listeners of any of the message's channels, once per publish. */
export interface PublishEvent {
  message: BrokerMessage;
  order: number;
  entries: PublishedEntry[];
}

export type BrokerListener = (event: PublishEvent) => void;

/** How a reader at `position` stands to a published entry. */
export type EntryStanding = 'next' | 'seen' | 'behind';

/**
 * Storage and notification of messages, per channel. Implementations:
 * `memory` (one process) and `redis` (several nodes). All of them
 * pass test/conformance/broker-conformance.ts unchanged.
 */
export interface Broker {
  readonly name: string;
  /**
   * Copies of one message sent to several channels may be separate entries with different orders, told
   * in separate events (Redis Cluster: one per shard). Readers then remember the ids they delivered.
   */
  readonly splitsCopies: boolean;
  /**
   * Stores a batch atomically: either every message is stored (or found as an
   * idempotent duplicate) or, on an id conflict, none is and this rejects with
   * `ID_CONFLICT`. Resolves only after storage; listeners are told after that.
   */
  publish(batch: PublishRequest[]): Promise<PublishOutcome[]>;
  /** Entries after `after`, oldest first, at most `limit`. */
  read(channel: string, after: StreamPosition, limit: number): Promise<ReadResult>;
  /** The channel's current head: a new reader starts here ("now"). */
  head(channel: string): Promise<StreamPosition>;
  /**
   * Calls `listener` for each publish to `channel` until the returned function is called. A publish on
   * this node after `subscribe` returned is always told. A broker that can miss notifications (Redis:
   * before its subscription is active, or while Redis is away) calls `resync` once they flow again;
   * the caller then re-reads from its positions.
   */
  subscribe(channel: string, listener: BrokerListener, resync?: () => void): () => void;
  /** Whether an entry told to a listener follows directly on `position`. */
  standing(position: StreamPosition, entry: PublishedEntry): EntryStanding;
  close(): Promise<void>;
}
