import { randomBytes, randomUUID } from 'node:crypto';
import { PnsError, type StreamPosition } from '@pns/protocol';
import {
  type Broker,
  type BrokerEntry,
  type BrokerListener,
  type BrokerMessage,
  BrokerUnavailableError,
  type EntryStanding,
  type PublishEvent,
  type PublishedEntry,
  type PublishOutcome,
  type PublishRequest,
  type ReadResult,
} from './broker.js';

export interface MemoryBrokerOptions {
  /** Messages kept per channel (oldest go first). */
  retentionCount: number;
  /** Total bytes of retained messages across all channels (an estimate; oldest go first). */
  memoryBudgetBytes: number;
  /** How long an empty channel's bookkeeping outlives its last read or write. */
  channelIdleMs: number;
  /** How often expired messages, idle channels and old idempotency records are swept. */
  sweepIntervalMs?: number;
  now?: () => number;
}

interface StoredEntry extends BrokerEntry {
  seq: number;
  expiresAt: number;
  bytes: number;
  removed: boolean;
}

interface ChannelStream {
  entries: StoredEntry[];
  /** Index of the first live entry in `entries` (removal from the front without shifting). */
  start: number;
  /** Highest seq removed from this channel: a reader below it has missed something. */
  removedMaxSeq: number;
  lastUsed: number;
}

interface IdempotencyRecord {
  scope: string;
  fingerprint: string;
  expiresAt: number;
}

/** Per-entry overhead beyond the message's own JSON, for the memory budget. */
const entryOverheadBytes = 320;

/**
 * One process's broker. Offsets are one sequence shared by all channels, so
 * a position read at sequence S means "seen everything up to S" in that
 * channel, copies of one publish share a sort order, and a channel whose
 * bookkeeping was dropped can still tell an old reader it may have missed
 * something (`forgottenMaxSeq`).
 */
export class MemoryBroker implements Broker {
  readonly name = 'memory';
  readonly splitsCopies = false;
  /** A restart makes a new epoch: cursors from before it are reported as gaps. */
  readonly epoch = `m${randomBytes(6).toString('base64url')}`;
  private readonly options: Required<MemoryBrokerOptions>;
  private readonly channels = new Map<string, ChannelStream>();
  private readonly listeners = new Map<string, Set<BrokerListener>>();
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  /** Every live entry in publish order, for the memory budget. */
  private budgetQueue: StoredEntry[] = [];
  private budgetQueueStart = 0;
  /** Entries in the queue (after its start) that were already removed by count or ttl. */
  private budgetQueueRemoved = 0;
  private seq = 0;
  private lastTs = 0;
  private forgottenMaxSeq = 0;
  private retainedBytes = 0;
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;

  constructor(options: MemoryBrokerOptions) {
    this.options = { sweepIntervalMs: 5_000, now: Date.now, ...options };
    this.sweepTimer = setInterval(() => this.sweep(), this.options.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  async publish(batch: PublishRequest[]): Promise<PublishOutcome[]> {
    this.assertOpen();
    const now = this.options.now();
    // Check every id before storing anything, so a conflict stores none of the batch.
    // Ids are keyed service-wide, not per scope: clients dedupe by id, so an id
    // held by another publish key is a conflict too.
    const seenInBatch = new Map<string, PublishRequest>();
    for (const request of batch) {
      if (request.id === undefined) continue;
      const earlier = seenInBatch.get(request.id) ?? this.liveRecord(request.id, now);
      if (earlier && (earlier.scope !== request.scope || earlier.fingerprint !== request.fingerprint)) {
        throw new PnsError('ID_CONFLICT', `Message id ${JSON.stringify(request.id)} was already used for another message.`);
      }
      seenInBatch.set(request.id, request);
    }
    const outcomes: PublishOutcome[] = [];
    const events: PublishEvent[] = [];
    for (const request of batch) {
      if (request.id !== undefined && this.liveRecord(request.id, now)) {
        outcomes.push({ id: request.id, duplicate: true });
        continue;
      }
      const id = request.id ?? randomUUID();
      const ttlMs = request.ttlSeconds * 1000;
      if (request.id !== undefined) {
        this.idempotency.set(id, { scope: request.scope, fingerprint: request.fingerprint, expiresAt: now + ttlMs });
      }
      events.push(this.store(request, id, now, ttlMs));
      outcomes.push({ id, duplicate: false });
    }
    this.enforceBudget();
    for (const event of events) this.notify(event);
    return outcomes;
  }

  async read(channel: string, after: StreamPosition, limit: number): Promise<ReadResult> {
    this.assertOpen();
    const stream = this.channels.get(channel);
    const now = this.options.now();
    if (stream) stream.lastUsed = now;
    let from = this.parseOffset(after);
    let gap = false;
    const removedMaxSeq = stream ? stream.removedMaxSeq : this.forgottenMaxSeq;
    if (from === undefined || from > this.seq) {
      gap = true; // another epoch, or a position this broker never handed out
      from = removedMaxSeq;
    } else if (from < removedMaxSeq) {
      gap = true;
      from = removedMaxSeq;
    }
    const entries: StoredEntry[] = [];
    let more = false;
    if (stream) {
      for (let i = this.firstAfter(stream, from); i < stream.entries.length; i++) {
        const entry = stream.entries[i] as StoredEntry;
        if (entry.expiresAt <= now) {
          gap = true;
          continue;
        }
        if (entries.length === limit) {
          more = true;
          break;
        }
        entries.push(entry);
      }
    }
    const last = entries.at(-1);
    return {
      entries,
      from: this.position(from),
      to: more && last ? last.position : this.position(this.seq),
      gap,
      more,
    };
  }

  async head(_channel: string): Promise<StreamPosition> {
    this.assertOpen();
    return this.position(this.seq);
  }

  subscribe(channel: string, listener: BrokerListener): () => void {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener);
    return () => {
      const current = this.listeners.get(channel);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.listeners.delete(channel);
    };
  }

  standing(position: StreamPosition, entry: PublishedEntry): EntryStanding {
    const at = this.parseOffset(position);
    if (at === undefined) return 'behind';
    if (at >= Number(entry.position.offset)) return 'seen';
    return at >= Number(entry.previous.offset) ? 'next' : 'behind';
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.listeners.clear();
  }

  /** Counts for tests and metrics. */
  stats(): {
    channels: number;
    retainedMessages: number;
    retainedBytes: number;
    listeners: number;
    /** Channels with at least one listener (what `pns_broker_channels` shows). */
    subscribedChannels: number;
    idempotencyRecords: number;
    /** Entries the memory-budget queue still references (live or awaiting compaction). */
    budgetQueueEntries: number;
  } {
    let retainedMessages = 0;
    for (const stream of this.channels.values()) retainedMessages += stream.entries.length - stream.start;
    let listeners = 0;
    for (const set of this.listeners.values()) listeners += set.size;
    return {
      channels: this.channels.size,
      retainedMessages,
      retainedBytes: this.retainedBytes,
      listeners,
      subscribedChannels: this.listeners.size,
      idempotencyRecords: this.idempotency.size,
      budgetQueueEntries: this.budgetQueue.length - this.budgetQueueStart,
    };
  }

  /** Drops expired messages from the front of each channel (reads skip any others), idle empty channels, and expired idempotency records. */
  sweep(): void {
    const now = this.options.now();
    for (const [channel, stream] of this.channels) {
      while (stream.start < stream.entries.length && (stream.entries[stream.start] as StoredEntry).expiresAt <= now) {
        this.removeFront(stream);
      }
      this.compact(stream);
      const empty = stream.start === stream.entries.length;
      if (empty && now - stream.lastUsed >= this.options.channelIdleMs && !this.listeners.has(channel)) {
        this.forgottenMaxSeq = Math.max(this.forgottenMaxSeq, stream.removedMaxSeq);
        this.channels.delete(channel);
      }
    }
    for (const [id, record] of this.idempotency) {
      if (record.expiresAt <= now) this.idempotency.delete(id);
    }
    this.compactBudgetQueue();
  }

  private assertOpen(): void {
    if (this.closed) throw new BrokerUnavailableError('the memory broker is closed');
  }

  private liveRecord(id: string, now: number): IdempotencyRecord | undefined {
    const record = this.idempotency.get(id);
    return record && record.expiresAt > now ? record : undefined;
  }

  private store(request: PublishRequest, id: string, now: number, ttlMs: number): PublishEvent {
    // ts never goes backwards, so merged reads stay in publish order.
    this.lastTs = Math.max(this.lastTs, now);
    const message: BrokerMessage = { id, type: request.type, ts: this.lastTs, dataJson: request.dataJson };
    const seq = ++this.seq;
    const position = this.position(seq);
    const bytes = entryOverheadBytes + request.dataJson.length + id.length + String(request.type).length;
    const published: PublishedEntry[] = [];
    for (const channel of request.channels) {
      let stream = this.channels.get(channel);
      if (!stream) {
        // A recreated channel cannot know what its forgotten predecessor held.
        stream = { entries: [], start: 0, removedMaxSeq: this.forgottenMaxSeq, lastUsed: now };
        this.channels.set(channel, stream);
      }
      stream.lastUsed = now;
      const previous = this.position(this.headSeq(stream));
      const entry: StoredEntry = {
        channel,
        position,
        order: seq,
        message,
        seq,
        expiresAt: now + ttlMs,
        bytes,
        removed: false,
      };
      stream.entries.push(entry);
      this.budgetQueue.push(entry);
      this.retainedBytes += bytes;
      while (stream.entries.length - stream.start > this.options.retentionCount) this.removeFront(stream);
      this.compact(stream);
      published.push({ channel, position, previous });
    }
    return { message, order: seq, entries: published };
  }

  private enforceBudget(): void {
    this.compactBudgetQueue();
    while (this.retainedBytes > this.options.memoryBudgetBytes && this.budgetQueueStart < this.budgetQueue.length) {
      const entry = this.budgetQueue[this.budgetQueueStart] as StoredEntry;
      // The globally oldest live entry is always at the front of its channel.
      this.removeFront(this.channels.get(entry.channel) as ChannelStream);
      this.compactBudgetQueue();
    }
  }

  private removeFront(stream: ChannelStream): void {
    const entry = stream.entries[stream.start] as StoredEntry;
    stream.entries[stream.start] = undefined as unknown as StoredEntry;
    stream.start++;
    entry.removed = true;
    this.budgetQueueRemoved++;
    this.retainedBytes -= entry.bytes;
    stream.removedMaxSeq = Math.max(stream.removedMaxSeq, entry.seq);
  }

  private compact(stream: ChannelStream): void {
    if (stream.start > 32 && stream.start * 2 > stream.entries.length) {
      stream.entries = stream.entries.slice(stream.start);
      stream.start = 0;
    }
  }

  /**
   * Drops removed entries from the queue's front, and rebuilds the queue when
   * removed entries behind a long-lived one make up most of it, so entries
   * trimmed by count or ttl never stay referenced (the queue is bounded by
   * about twice the live entries).
   */
  private compactBudgetQueue(): void {
    while (this.budgetQueueStart < this.budgetQueue.length && (this.budgetQueue[this.budgetQueueStart] as StoredEntry).removed) {
      this.budgetQueueStart++;
      this.budgetQueueRemoved--;
    }
    const length = this.budgetQueue.length - this.budgetQueueStart;
    if (this.budgetQueueRemoved > 1024 && this.budgetQueueRemoved * 2 > length) {
      this.budgetQueue = this.budgetQueue.slice(this.budgetQueueStart).filter((entry) => !entry.removed);
      this.budgetQueueStart = 0;
      this.budgetQueueRemoved = 0;
    } else if (this.budgetQueueStart > 1024 && this.budgetQueueStart * 2 > this.budgetQueue.length) {
      this.budgetQueue.splice(0, this.budgetQueueStart);
      this.budgetQueueStart = 0;
    }
  }

  private headSeq(stream: ChannelStream): number {
    const last = stream.entries.at(-1);
    return last && !last.removed ? last.seq : stream.removedMaxSeq;
  }

  /** Index of the first live entry with seq > `seq` (binary search: entries are in seq order). */
  private firstAfter(stream: ChannelStream, seq: number): number {
    let low = stream.start;
    let high = stream.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((stream.entries[mid] as StoredEntry).seq <= seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private notify(event: PublishEvent): void {
    const called = new Set<BrokerListener>();
    for (const { channel } of event.entries) {
      const set = this.listeners.get(channel);
      if (!set) continue;
      for (const listener of set) {
        if (called.has(listener)) continue;
        called.add(listener);
        listener(event);
      }
    }
  }

  private position(seq: number): StreamPosition {
    return { epoch: this.epoch, offset: String(seq) };
  }

  private parseOffset(position: StreamPosition): number | undefined {
    if (position.epoch !== this.epoch || !/^(0|[1-9][0-9]{0,15})$/.test(position.offset)) return undefined;
    return Number(position.offset);
  }
}
