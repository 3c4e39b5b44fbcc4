import { PnsError } from '@pns/protocol';
import type { Cluster, Redis } from 'ioredis';
import { BrokerUnavailableError } from '../broker/broker.js';
import { checkedSession, type Session, type SessionResolver } from './session-resolver.js';

export interface RedisSessionResolverOptions {
  /** A client the caller owns, configures and closes. */
  redis: Redis | Cluster;
  /** The key of a session, with `{sid}` where the sid goes: `session:{sid}`. */
  keyTemplate: string;
  /**
   * How long (ms) a found session is reused without asking Redis, so a client's polls do not each cost a
   * lookup. A deleted session is therefore noticed within this time (an open stream also ends at the
   * session's expiry, as for any resolver). Default 5000.
   */
  cacheMs?: number;
  /** Sessions remembered at most, least recently used dropped first. Default 10 000. */
  cacheSize?: number;
  /** How long (ms) a lookup waits for Redis before it counts as unavailable. Default 2000. */
  timeoutMs?: number;
  now?: () => number;
}

const maxSidLength = 512;
/** Whitespace and control characters never occur in a session id, and would make odd keys. */
const implausibleSid = /[\s\p{Cc}]/u;

interface Cached {
  session: Session;
  /** Epoch ms until which the session is served without asking Redis. */
  until: number;
}

/**
 * Sessions the web application keeps in Redis (the seed client sends its webmail `sid`). The key's value
 * is the user id, or JSON `{"userId": "42", "topics": ["news"]}` (`user` or `sub` also name the user);
 * the key's TTL is the session's expiry. A missing key is an ended session (`SESSION_EXPIRED`), a value
 * of another shape `SESSION_INVALID`, and a Redis that fails or does not answer in time a
 * `BrokerUnavailableError` (503 `BACKEND_UNAVAILABLE`, so clients retry).
 */
export class RedisSessionResolver implements SessionResolver {
  private readonly redis: Redis | Cluster;
  private readonly keyParts: string[];
  private readonly cacheMs: number;
  private readonly cacheSize: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  /** Least recently used first. */
  private readonly cache = new Map<string, Cached>();
  /** Lookups in flight: the tabs and reconnects of one session share one. */
  private readonly pending = new Map<string, Promise<Session>>();

  constructor(options: RedisSessionResolverOptions) {
    if (!options.keyTemplate.includes('{sid}')) throw new Error('keyTemplate must contain {sid}, e.g. session:{sid}');
    this.redis = options.redis;
    this.keyParts = options.keyTemplate.split('{sid}');
    this.cacheMs = options.cacheMs ?? 5000;
    this.cacheSize = options.cacheSize ?? 10_000;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.now = options.now ?? Date.now;
  }

  resolve(sid: string): Promise<Session> {
    if (sid.length === 0 || sid.length > maxSidLength || implausibleSid.test(sid)) {
      return Promise.reject(new PnsError('SESSION_INVALID', 'The sid is not a session id.'));
    }
    const cached = this.cache.get(sid);
    if (cached) {
      this.cache.delete(sid);
      // Past its expiry it is asked again rather than refused: the application may have extended it.
      if (cached.until > this.now()) {
        this.cache.set(sid, cached);
        return Promise.resolve(cached.session);
      }
    }
    let lookup = this.pending.get(sid);
    if (!lookup) {
      lookup = this.lookup(sid).finally(() => this.pending.delete(sid));
      this.pending.set(sid, lookup);
    }
    return lookup;
  }

  private async lookup(sid: string): Promise<Session> {
    const started = this.now();
    const key = this.keyParts.join(sid);
    // One round trip, atomic: the value and the TTL belong to the same moment.
    const results = await this.bounded(() => this.redis.multi().get(key).pttl(key).exec());
    const [get, pttl] = results ?? [];
    if (!get || !pttl) throw new BrokerUnavailableError('the session lookup was aborted');
    const [getError, value] = get;
    if (getError) {
      if (getError.message.startsWith('WRONGTYPE')) throw new PnsError('SESSION_INVALID', 'The session is not a string value.');
      throw new BrokerUnavailableError('the session store failed', { cause: getError });
    }
    if (pttl[0]) throw new BrokerUnavailableError('the session store failed', { cause: pttl[0] });
    const ttl = pttl[1] as number;
    if (value === null || ttl === -2) throw new PnsError('SESSION_EXPIRED');
    const session = parseSession(value as string, ttl >= 0 ? started + ttl : undefined);
    const until = Math.min(started + this.cacheMs, session.expiresAt ?? Number.POSITIVE_INFINITY);
    // A flat copy: `sid` is a slice of its request's URL, which the cache would otherwise keep alive.
    this.cache.set(Buffer.from(sid, 'utf8').toString('utf8'), { session, until });
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
    return session;
  }

  /** ioredis queues commands while it reconnects; a poll must not wait for that, so the wait is bounded. */
  private async bounded<T>(command: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new BrokerUnavailableError(`the session store did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      timer.unref();
    });
    try {
      return await Promise.race([command(), timeout]);
    } catch (error) {
      throw error instanceof BrokerUnavailableError ? error : new BrokerUnavailableError('the session store failed', { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}

function parseSession(value: string, expiresAt: number | undefined): Session {
  let user: unknown = value;
  let topics: unknown;
  if (value.startsWith('{')) {
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(value) as Record<string, unknown>;
    } catch {
      throw new PnsError('SESSION_INVALID', 'The session value is neither a user id nor valid JSON.');
    }
    user = fields.userId ?? fields.user ?? fields.sub;
    topics = fields.topics;
  }
  return checkedSession({ user, topics, expiresAt, issuedAt: undefined }, 'The session');
}
