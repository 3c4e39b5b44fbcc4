import { BrokerUnavailableError } from '../broker/broker.js';
import type { RedisClient } from '../broker/redis-connection.js';
import { type Revocation, type RevocationNotice, type Revocations, revokedByUser, sidDigest } from './revocations.js';
import type { Session } from './session-resolver.js';

export interface RedisRevocationsOptions {
  /** Commands (no offline queue: a check while Redis is away fails at once, as a poll's other reads do). */
  redis: RedisClient;
  /** A connection of its own for the revocation notices. */
  subscriber: RedisClient;
  prefix: string;
  keepUserRevocationMs: number;
  onError(error: unknown): void;
  /**
   * The clock revocations are stamped and checked by: Redis's (see redis-clock.ts), so the node that revokes and
   * the nodes that check agree whatever their own clocks say. Default: this process's.
   */
  now?: () => number;
}

/** Sets a field and lengthens the key's life to cover it (never shortens it). */
const recordScript = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1`;

/**
 * Revocations shared by the nodes: one hash per revoked user (`<prefix>:revoked:<user>`: `user` =
 * `<revokedAt>:<until>`, `s:<sid digest>` = `<until>`), expiring with its last field, and a pub/sub channel
 * (`<prefix>:revocations`) on which every node hears each revocation to end its own connections at once.
 * A poll's check is one HMGET.
 */
export class RedisRevocations implements Revocations {
  private readonly channel: string;
  private readonly listeners: ((notice: RevocationNotice) => void)[] = [];
  private readonly resyncListeners: (() => void)[] = [];

  constructor(private readonly options: RedisRevocationsOptions) {
    this.channel = `${options.prefix}:revocations`;
    const { subscriber } = options;
    subscriber.on('message', (channel: string, payload: string) => {
      if (channel === this.channel) this.tell(payload);
    });
    // Subscribed again on every (re)connection: the connection does not resubscribe by itself. Notices sent
    // while it was away are lost: once subscribed again, the live sessions are checked against Redis.
    let lost = false;
    subscriber.on('close', () => {
      lost = true;
    });
    const subscribe = (): void => {
      subscriber.subscribe(this.channel).then(() => {
        if (!lost) return;
        lost = false;
        for (const listener of this.resyncListeners) listener();
      }, options.onError);
    };
    subscriber.on('ready', subscribe);
    if (subscriber.status === 'ready') subscribe();
  }

  async revoke(revocation: Revocation, sessionExpiresAt: number | undefined): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    const notice: RevocationNotice =
      'sid' in revocation ? { user: revocation.user, sidDigest: sidDigest(revocation.sid) } : { user: revocation.user };
    const until =
      notice.sidDigest !== undefined && sessionExpiresAt !== undefined ? sessionExpiresAt : now + this.options.keepUserRevocationMs;
    const [field, value] = notice.sidDigest === undefined ? ['user', `${now}:${until}`] : [`s:${notice.sidDigest}`, String(until)];
    await this.command(() => this.options.redis.eval(recordScript, 1, this.key(revocation.user), field, value, Math.max(1, until - now)));
    // This node's connections end now, before its own notice comes back through Redis (which ends nothing more).
    for (const listener of this.listeners) listener(notice);
    await this.command(() => this.options.redis.publish(this.channel, JSON.stringify(notice)));
  }

  async isRevoked(session: Pick<Session, 'userId' | 'issuedAt'>, sid: string): Promise<boolean> {
    const [user, sidUntil] = (await this.command(() =>
      this.options.redis.hmget(this.key(session.userId), 'user', `s:${sidDigest(sid)}`),
    )) as (string | null)[];
    const now = (this.options.now ?? Date.now)();
    if (user) {
      const [revokedAt, until] = user.split(':').map(Number);
      if ((until as number) > now && revokedByUser(session, revokedAt)) return true;
    }
    return sidUntil !== null && sidUntil !== undefined && Number(sidUntil) > now;
  }

  onRevoked(listener: (notice: RevocationNotice) => void): void {
    this.listeners.push(listener);
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
    this.resyncListeners.length = 0;
    await this.options.subscriber.quit().catch(() => undefined);
  }

  private key(user: string): string {
    return `${this.options.prefix}:revoked:${user}`;
  }

  private tell(payload: string): void {
    let notice: RevocationNotice;
    try {
      notice = JSON.parse(payload) as RevocationNotice;
    } catch {
      return;
    }
    if (typeof notice?.user !== 'string') return;
    for (const listener of this.listeners) listener(notice);
  }

  private async command<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new BrokerUnavailableError(`redis: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
}
