/**
 * The soak's books: every message published (its addressees, when it was sent and acknowledged) and every
 * message each user's clients received. At the end each (message, addressee) pair is judged against that
 * user's sessions (population.ts):
 *
 * - owed, exactly once: sent after the user's first session held its position, and acknowledged at least
 *   `graceMs` before its last session ended. Leaving and coming back in between changes nothing: the
 *   client resumes from its cursor, so what was published while it was away (within the ttl) is owed too,
 *   and counted apart as "published while offline".
 * - must not arrive: acknowledged before the user's first connection started (it starts at "now"), sent
 *   after its last connection ended, or addressed to a user that never connected.
 * - either way: the rest (in flight while the client connected or left). Zero or one delivery is right.
 *
 * A second delivery of anything to one user is a duplicate, whichever class it is in.
 */
import { type Percentiles, percentiles } from '../measure.js';
import type { User } from './population.js';

interface Receipt {
  count: number;
  firstAt: number;
}

export interface LedgerResult {
  /** Messages published; of them acknowledged (200 with their ids) and failed. */
  published: number;
  acknowledged: number;
  failedPublishes: number;
  /** (message, addressee) pairs of acknowledged messages. */
  addressed: number;
  owed: number;
  /** Owed pairs received exactly once. */
  delivered: number;
  missing: number;
  /** Receipts beyond the first of a message by one user. */
  duplicates: number;
  /** Receipts of messages the user must not get (published before it connected), or of ids not addressed to it. */
  unexpected: number;
  /** Pairs in flight while the client connected or left: 0 or 1 receipt is right; how many arrived. */
  inFlight: number;
  inFlightReceived: number;
  /** Owed pairs published while the user was away, and how many of them its return delivered. */
  offlineOwed: number;
  offlineDelivered: number;
  /** Publish to first receipt of owed pairs published while the user was online, ms. */
  latencyMs: Percentiles;
  /** The first few problems, for the report. */
  examples: string[];
}

export class SoakLedger {
  private readonly sentAt: number[] = [];
  /** NaN until acknowledged; -1 when the publish failed. */
  private readonly ackAt: number[] = [];
  private readonly recipients: number[][] = [];
  /** Per user: per message seq, what its clients received. */
  private readonly receipts = new Map<number, Map<number, Receipt>>();
  private strays = 0;

  /** Enters a message to `recipients` (user numbers), sent now; returns its seq (its id is `s<seq>`). */
  enter(recipients: number[], sentAt: number): number {
    const seq = this.sentAt.length;
    this.sentAt.push(sentAt);
    this.ackAt.push(Number.NaN);
    this.recipients.push(recipients);
    return seq;
  }

  acknowledged(seq: number, at: number): void {
    this.ackAt[seq] = at;
  }

  failed(seq: number): void {
    this.ackAt[seq] = -1;
  }

  received(u: number, id: string, at: number): void {
    const seq = /^s\d+$/.test(id) ? Number(id.slice(1)) : -1;
    if (seq < 0 || seq >= this.sentAt.length) {
      this.strays++;
      return;
    }
    let byUser = this.receipts.get(u);
    if (!byUser) {
      byUser = new Map();
      this.receipts.set(u, byUser);
    }
    const receipt = byUser.get(seq);
    if (receipt) receipt.count++;
    else byUser.set(seq, { count: 1, firstAt: at });
  }

  /** Judges every pair; `users[u]` is user u's record (undefined: never created). */
  settle(users: readonly (User | undefined)[], graceMs: number): LedgerResult {
    const result: LedgerResult = {
      published: this.sentAt.length,
      acknowledged: 0,
      failedPublishes: 0,
      addressed: 0,
      owed: 0,
      delivered: 0,
      missing: 0,
      duplicates: 0,
      unexpected: this.strays,
      inFlight: 0,
      inFlightReceived: 0,
      offlineOwed: 0,
      offlineDelivered: 0,
      latencyMs: percentiles([]),
      examples: [],
    };
    const example = (line: string): void => {
      if (result.examples.length < 8) result.examples.push(line);
    };
    const latencies: number[] = [];
    for (let seq = 0; seq < this.sentAt.length; seq++) {
      const sentAt = this.sentAt[seq] as number;
      const ackAt = this.ackAt[seq] as number;
      const acked = ackAt >= 0;
      if (acked) result.acknowledged++;
      else result.failedPublishes++;
      for (const u of this.recipients[seq] as number[]) {
        const receipt = this.receipts.get(u)?.get(seq);
        const count = receipt?.count ?? 0;
        if (count > 1) {
          result.duplicates += count - 1;
          example(`s${seq} reached u${u} ${count} times`);
        }
        if (!acked) continue;
        result.addressed++;
        const verdict = judge(users[u], sentAt, ackAt, graceMs);
        if (verdict === 'never') {
          if (count > 0) {
            result.unexpected++;
            example(`s${seq} reached u${u}, published before it connected`);
          }
        } else if (verdict === 'either') {
          result.inFlight++;
          if (count > 0) result.inFlightReceived++;
        } else {
          result.owed++;
          if (verdict === 'offline') result.offlineOwed++;
          if (count === 0) {
            result.missing++;
            example(`s${seq} never reached u${u} (${users[u]?.transport}, ${verdict})`);
            continue;
          }
          result.delivered++;
          if (verdict === 'offline') result.offlineDelivered++;
          else latencies.push((receipt as Receipt).firstAt - sentAt);
        }
      }
    }
    // Receipts by users a message was not addressed to.
    for (const [u, byUser] of this.receipts) {
      for (const seq of byUser.keys()) {
        if ((this.recipients[seq] as number[]).includes(u)) continue;
        result.unexpected++;
        example(`s${seq} reached u${u}, not an addressee`);
      }
    }
    result.latencyMs = percentiles(latencies);
    return result;
  }
}

type Verdict = 'online' | 'offline' | 'never' | 'either';

/** What user `user` is owed of a message sent at `sentAt` and acknowledged at `ackAt` (see the head of this file). */
function judge(user: User | undefined, sentAt: number, ackAt: number, graceMs: number): Verdict {
  const first = user?.sessions[0];
  if (!user || !first) return 'never';
  if (ackAt < first.startedAt) return 'never';
  // A user whose client failed to connect is judged by nothing: the failure is reported on its own.
  if (user.state === 'failed') return 'either';
  const last = user.sessions[user.sessions.length - 1] as (typeof user.sessions)[number];
  const end = last.leftAt ?? Number.POSITIVE_INFINITY;
  // Gone for good (it never came back): no client of its can receive anything.
  if (sentAt > end) return 'never';
  if (sentAt < first.establishedAt || ackAt + graceMs > end) return 'either';
  for (let k = 0; k + 1 < user.sessions.length; k++) {
    const away = user.sessions[k]?.leftAt as number;
    const back = user.sessions[k + 1]?.startedAt as number;
    if (sentAt >= away && ackAt <= back) return 'offline';
  }
  return 'online';
}
