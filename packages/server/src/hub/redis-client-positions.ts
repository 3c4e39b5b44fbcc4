import type { RedisClient } from '../broker/redis-connection.js';
import type { ClientPositionStore } from './client-positions.js';

export interface RedisClientPositionOptions {
  redis: RedisClient;
  prefix: string;
  /** How long an entry lives after its last use (as the memory store). */
  ttlMs: number;
  now?: () => number;
}

/**
 * Cursorless clients' positions in Redis, so the seed's client (which never sends a cursor) resumes on
 * whichever node its next poll reaches. A value is `<expires at ms>|<cursor>` and the key lives twice as
 * long: for the second half a returning client is told it has a gap rather than silently starting at "now".
 * A Redis failure is passed on as it is: callers answer it as BACKEND_UNAVAILABLE (see `planSubscription`).
 */
export class RedisClientPositionStore implements ClientPositionStore {
  readonly survivesRestart = true;
  private readonly options: Required<RedisClientPositionOptions>;

  constructor(options: RedisClientPositionOptions) {
    this.options = { now: Date.now, ...options };
  }

  async get(key: string): Promise<string | 'expired' | undefined> {
    const value = await this.options.redis.get(this.key(key));
    if (value === null) return undefined;
    const bar = value.indexOf('|');
    const expiresAt = Number(value.slice(0, bar));
    if (bar < 0 || !Number.isFinite(expiresAt)) return undefined;
    return expiresAt > this.options.now() ? value.slice(bar + 1) : 'expired';
  }

  async set(key: string, cursor: string): Promise<void> {
    const { ttlMs } = this.options;
    await this.options.redis.set(this.key(key), `${this.options.now() + ttlMs}|${cursor}`, 'PX', ttlMs * 2);
  }

  private key(key: string): string {
    return `${this.options.prefix}:cp:${key}`;
  }
}
