import { now } from './clock.js';
import { type Percentiles, percentileCurve, percentiles } from './measure.js';
import type { BenchPayload } from './target.js';

/** What happened to one group of messages (one row of a table). */
export interface GroupStats {
  name: string;
  /** Messages the target acknowledged. */
  messages: number;
  /** Publishes the target refused or failed (not expected anywhere). */
  publishErrors: number;
  /** Deliveries owed: one per addressee of every acknowledged message (0 for a best-effort group). */
  expected: number;
  /** First deliveries (per message and addressee). */
  delivered: number;
  lost: number;
  /** Deliveries beyond the first, per message and addressee. */
  duplicated: number;
  /** Deliveries to a subscriber the message was not addressed to. */
  unexpected: number;
  /** Publish-to-receive latency of first deliveries, ms. */
  latency: Percentiles;
  firstSentAt: number | null;
  lastDeliveryAt: number | null;
}

/** A typed array that grows by doubling. */
class Column<T extends Float64Array | Int32Array | Uint8Array> {
  constructor(
    public data: T,
    private readonly make: (length: number) => T,
  ) {}
  ensure(index: number): void {
    if (index < this.data.length) return;
    const bigger = this.make(Math.max(index + 1, this.data.length * 2));
    bigger.set(this.data);
    this.data = bigger;
  }
}

interface Group {
  name: string;
  bestEffort: boolean;
  messages: number;
  publishErrors: number;
  expected: number;
  delivered: number;
  duplicated: number;
  unexpected: number;
  latencies: Column<Float64Array>;
  firstSentAt: number | null;
  lastDeliveryAt: number | null;
}

interface Broadcast {
  group: Group;
  sentAt: number;
  /** Addressees are the subscribers from..to-1. */
  from: number;
  to: number;
  counts: Uint8Array;
  cancelled: boolean;
}

/**
 * The books of one scenario run: every message the driver publishes is
 * entered with its addressees, every delivery a load generator reports is
 * checked against them. Exactly once per addressee, or the run failed.
 * Ids are `u<seq>` (one addressee) and `b<seq>` (a range of subscribers).
 */
export class Ledger {
  private readonly groups: Group[] = [];
  private readonly sentAt = new Column(new Float64Array(1024), (n) => new Float64Array(n));
  private readonly to = new Column(new Int32Array(1024), (n) => new Int32Array(n));
  private readonly counts = new Column(new Uint8Array(1024), (n) => new Uint8Array(n));
  private readonly groupOf = new Column(new Int32Array(1024), (n) => new Int32Array(n));
  private unicasts = 0;
  private readonly broadcasts: Broadcast[] = [];
  /** Messages whose publish failed: a delivery of one is neither owed nor wrong. */
  private readonly cancelled = new Set<number>();
  /** Deliveries whose id names no message of this run. */
  strays = 0;

  /** A new group; a best-effort group owes nothing (probes): only its duplicates count. */
  group(name: string, bestEffort = false): number {
    this.groups.push({
      name,
      bestEffort,
      messages: 0,
      publishErrors: 0,
      expected: 0,
      delivered: 0,
      duplicated: 0,
      unexpected: 0,
      latencies: new Column(new Float64Array(1024), (n) => new Float64Array(n)),
      firstSentAt: null,
      lastDeliveryAt: null,
    });
    return this.groups.length - 1;
  }

  /** Enters a message for subscriber `sub`, stamped now: publish it right away. */
  unicast(groupIndex: number, sub: number): BenchPayload {
    const group = this.groupAt(groupIndex);
    const seq = this.unicasts++;
    for (const column of [this.sentAt, this.to, this.counts, this.groupOf]) column.ensure(seq);
    const sentAt = now();
    this.sentAt.data[seq] = sentAt;
    this.to.data[seq] = sub;
    this.groupOf.data[seq] = groupIndex;
    this.sent(group, sentAt, 1);
    return { id: `u${seq}`, sentAt };
  }

  /** Enters a message for subscribers from..to-1, stamped now. */
  broadcast(groupIndex: number, from: number, to: number): BenchPayload {
    const group = this.groupAt(groupIndex);
    const sentAt = now();
    this.broadcasts.push({ group, sentAt, from, to, counts: new Uint8Array(to - from), cancelled: false });
    this.sent(group, sentAt, to - from);
    return { id: `b${this.broadcasts.length - 1}`, sentAt };
  }

  /** The target did not acknowledge this message: nobody is owed it. */
  cancel(payload: BenchPayload): void {
    const seq = Number(payload.id.slice(1));
    if (payload.id.startsWith('u')) {
      const group = this.groupAt(this.groupOf.data[seq] as number);
      this.cancelled.add(seq);
      this.unsent(group, 1);
    } else {
      const broadcast = this.broadcasts[seq] as Broadcast;
      broadcast.cancelled = true;
      this.unsent(broadcast.group, broadcast.counts.length);
    }
  }

  /** A load generator reports that subscriber `sub` received `id` at `at`. */
  record(sub: number, id: string, at: number): void {
    const seq = Number(id.slice(1));
    if (id.startsWith('u') && Number.isInteger(seq) && seq >= 0 && seq < this.unicasts) {
      const group = this.groupAt(this.groupOf.data[seq] as number);
      if (this.cancelled.has(seq)) return;
      if (this.to.data[seq] !== sub) group.unexpected++;
      else this.count(group, this.counts.data, seq, at - (this.sentAt.data[seq] as number), at);
      return;
    }
    const broadcast = id.startsWith('b') && Number.isInteger(seq) ? this.broadcasts[seq] : undefined;
    if (!broadcast) this.strays++;
    else if (broadcast.cancelled) return;
    else if (sub < broadcast.from || sub >= broadcast.to) broadcast.group.unexpected++;
    else this.count(broadcast.group, broadcast.counts, sub - broadcast.from, at - broadcast.sentAt, at);
  }

  /** Deliveries still owed in a group. */
  pending(groupIndex: number): number {
    const group = this.groupAt(groupIndex);
    return group.expected - group.delivered;
  }

  stats(groupIndex: number): GroupStats {
    const group = this.groupAt(groupIndex);
    const latencies = group.latencies.data.subarray(0, group.delivered);
    return {
      name: group.name,
      messages: group.messages,
      publishErrors: group.publishErrors,
      expected: group.expected,
      delivered: group.delivered,
      lost: Math.max(0, group.expected - group.delivered),
      duplicated: group.duplicated,
      unexpected: group.unexpected,
      latency: percentiles(latencies),
      firstSentAt: group.firstSentAt,
      lastDeliveryAt: group.lastDeliveryAt,
    };
  }

  /** Publish-to-receive latency of a group's first deliveries at percentiles 0, 1, …, 100, ms to 0.1 (see `percentileCurve`). */
  latencyCurve(groupIndex: number): number[] {
    const group = this.groupAt(groupIndex);
    return percentileCurve(group.latencies.data.subarray(0, group.delivered));
  }

  private groupAt(index: number): Group {
    const group = this.groups[index];
    if (!group) throw new RangeError(`No ledger group ${index}`);
    return group;
  }

  private sent(group: Group, sentAt: number, addressees: number): void {
    group.messages++;
    if (!group.bestEffort) group.expected += addressees;
    group.firstSentAt ??= sentAt;
  }

  private unsent(group: Group, addressees: number): void {
    group.messages--;
    group.publishErrors++;
    if (!group.bestEffort) group.expected -= addressees;
  }

  private count(group: Group, counts: Uint8Array, index: number, latency: number, at: number): void {
    const seen = counts[index] as number;
    if (seen < 255) counts[index] = seen + 1;
    if (seen > 0) {
      group.duplicated++;
      return;
    }
    group.latencies.ensure(group.delivered);
    group.latencies.data[group.delivered] = latency;
    group.delivered++;
    if (group.lastDeliveryAt === null || at > group.lastDeliveryAt) group.lastDeliveryAt = at;
  }
}
