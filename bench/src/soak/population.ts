/**
 * The soak's users: who is online, who left and may come back, and which client process holds whom.
 * User `u<u>` keeps one session token for its life; its client leaves (closes its connection) and may
 * come back on the same transport with the cursor it left with, within half a message ttl, so what was
 * published meanwhile is still retained. Users that stay away longer never come back.
 */
import { createToken } from '@pns/publisher';
import { userOf } from '../loadgen-protocol.js';
import { benchTokenTtl, pnsSecret } from '../targets/pns-config.js';
import type { JoinOrder, Transport } from './client-protocol.js';

/** One connected stretch of a user's life. Times on the machine-wide monotonic clock (clock.ts). */
export interface UserSession {
  /** Before its first request. */
  startedAt: number;
  /** Once the server held its position (the first session's start of what it is owed). */
  establishedAt: number;
  /** When its connection was closed; undefined while online. */
  leftAt?: number;
}

export type UserState = 'joining' | 'online' | 'leaving' | 'offline' | 'failed';

export interface User {
  u: number;
  sid: string;
  transport: Transport;
  process: number;
  state: UserState;
  /** Where it stood when it last left: a return resumes from it. */
  cursor?: string;
  sessions: UserSession[];
}

/** A set that can hand out a random member in O(1). */
class RandomSet {
  private readonly items: number[] = [];
  private readonly at = new Map<number, number>();

  get size(): number {
    return this.items.length;
  }

  add(item: number): void {
    if (this.at.has(item)) return;
    this.at.set(item, this.items.length);
    this.items.push(item);
  }

  delete(item: number): void {
    const index = this.at.get(item);
    if (index === undefined) return;
    const last = this.items.pop() as number;
    this.at.delete(item);
    if (last !== item) {
      this.items[index] = last;
      this.at.set(last, index);
    }
  }

  random(): number | undefined {
    return this.items.length ? this.items[Math.floor(Math.random() * this.items.length)] : undefined;
  }
}

export interface PopulationOptions {
  processes: number;
  /** Shares of long polling, SSE and WebSocket among new users (the rest of 1 after SSE and WebSocket is long polling). */
  sseShare: number;
  websocketShare: number;
  /** A user that left comes back no sooner than this, and never later than `maxOfflineMs`. */
  minOfflineMs: number;
  maxOfflineMs: number;
}

export class Population {
  readonly users: User[] = [];
  private readonly online = new RandomSet();
  private readonly offline = new RandomSet();
  /** Users that left, oldest first, while they may still come back. */
  private departed: { u: number; leftAt: number }[] = [];
  private readonly load: number[];
  readonly counts = { newUsers: 0, returns: 0, leaves: 0, joinFailures: 0, neverReturned: 0 };
  readonly joinFailures: string[] = [];

  constructor(private readonly options: PopulationOptions) {
    this.load = new Array<number>(options.processes).fill(0);
  }

  get onlineCount(): number {
    return this.online.size;
  }

  /** Clients opened or under way, not yet told to leave or failed. */
  get activeCount(): number {
    return this.load.reduce((sum, n) => sum + n, 0);
  }

  /** `count` new users (tokens minted), not yet joined. */
  async create(count: number): Promise<User[]> {
    const made: User[] = [];
    for (let k = 0; k < count; k++) {
      const u = this.users.length;
      const sid = await createToken({ secret: pnsSecret, user: userOf(u), ttl: benchTokenTtl });
      const user: User = { u, sid, transport: this.pickTransport(), process: 0, state: 'offline', sessions: [] };
      this.users.push(user);
      made.push(user);
    }
    this.counts.newUsers += count;
    return made;
  }

  /** Orders to open these users' clients, by process: a new user goes where the fewest are; a returning one too. */
  joinOrders(users: User[]): JoinOrder[][] {
    const orders: JoinOrder[][] = this.load.map(() => []);
    for (const user of users) {
      const index = this.load.indexOf(Math.min(...this.load));
      this.load[index] = (this.load[index] as number) + 1;
      user.process = index;
      user.state = 'joining';
      this.offline.delete(user.u);
      const order: JoinOrder = { u: user.u, sid: user.sid, transport: user.transport };
      if (user.cursor) order.cursor = user.cursor;
      orders[index]?.push(order);
    }
    return orders;
  }

  joined(u: number, startedAt: number, establishedAt: number): void {
    const user = this.users[u];
    if (!user) return;
    user.sessions.push({ startedAt, establishedAt });
    user.state = 'online';
    this.online.add(u);
  }

  joinFailed(u: number, error: string): void {
    const user = this.users[u];
    if (!user) return;
    user.state = 'failed';
    this.load[user.process] = (this.load[user.process] as number) - 1;
    this.counts.joinFailures++;
    if (this.joinFailures.length < 5) this.joinFailures.push(`u${u} (${user.transport}): ${error}`);
  }

  /** Picks `count` online users to leave, by process. */
  leavers(count: number): number[][] {
    const byProcess: number[][] = this.load.map(() => []);
    for (let k = 0; k < count; k++) {
      const u = this.online.random();
      const user = u === undefined ? undefined : this.users[u];
      if (!user) break;
      this.online.delete(user.u);
      user.state = 'leaving';
      byProcess[user.process]?.push(user.u);
    }
    this.counts.leaves += byProcess.reduce((sum, list) => sum + list.length, 0);
    return byProcess;
  }

  /** Every online user is about to be told to leave (the end of the run). */
  allLeaving(): void {
    for (const user of this.users) {
      if (user.state === 'online') {
        this.online.delete(user.u);
        user.state = 'leaving';
      }
    }
  }

  left(u: number, at: number, cursor: string | undefined): void {
    const user = this.users[u];
    if (!user) return;
    const session = user.sessions[user.sessions.length - 1];
    if (session) session.leftAt = at;
    if (cursor) user.cursor = cursor;
    user.state = 'offline';
    this.online.delete(u);
    this.offline.add(u);
    this.load[user.process] = (this.load[user.process] as number) - 1;
    if (cursor) this.departed.push({ u, leftAt: at });
  }

  /** Up to `count` users who left between `maxOfflineMs` and `minOfflineMs` ago, at random among them. */
  returning(count: number, at: number): User[] {
    let stale = 0;
    while (stale < this.departed.length && (this.departed[stale]?.leftAt as number) < at - this.options.maxOfflineMs) stale++;
    this.counts.neverReturned += stale;
    this.departed = this.departed.slice(stale);
    let eligible = 0;
    while (eligible < this.departed.length && (this.departed[eligible]?.leftAt as number) <= at - this.options.minOfflineMs) eligible++;
    const picked: User[] = [];
    while (picked.length < count && eligible > 0) {
      const [entry] = this.departed.splice(Math.floor(Math.random() * eligible), 1);
      eligible--;
      const user = entry && this.users[entry.u];
      if (user?.state === 'offline') picked.push(user);
    }
    this.counts.returns += picked.length;
    return picked;
  }

  /**
   * A user to publish to: mostly one online now, some offline (they left, and may come back or not), and
   * some not created yet (a new user must not get what was published before it first connected).
   */
  recipient(): number {
    const roll = Math.random();
    if (roll < 0.85) {
      const u = this.online.random();
      if (u !== undefined) return u;
    }
    if (roll < 0.95) {
      const u = this.offline.random();
      if (u !== undefined) return u;
    }
    return this.users.length + Math.floor(Math.random() * 200);
  }

  private pickTransport(): Transport {
    const roll = Math.random();
    if (roll < this.options.sseShare) return 'sse';
    if (roll < this.options.sseShare + this.options.websocketShare) return 'websocket';
    return 'longpoll';
  }
}
