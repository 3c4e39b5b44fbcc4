import type { RedisClient } from './redis-connection.js';

/** Clocks drift slowly, and NTP steps them now and then: the offset is measured again this often. */
const remeasureMs = 30_000;
/** An answer slower than this says too little about when Redis read its clock. */
const maxRoundTripMs = 250;

/**
 * Redis's clock as seen from this node: the node's own clock plus an offset measured with TIME. Messages carry
 * Redis's time (`ts`; their expiry is Redis's too) and nodes read each other's dashboard samples, so whatever
 * compares times across nodes uses this one clock: a node whose own clock is off still measures delivery
 * latency rightly and tells a fresh sample of another node from a stale one.
 */
export class RedisClock {
  private offsetMs = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly measureOnReady = (): void => void this.measure();

  constructor(private readonly redis: RedisClient) {
    this.timer = setInterval(() => void this.measure(), remeasureMs);
    this.timer.unref();
    // After an outage Redis may be another machine (a failover): measured afresh.
    redis.on('ready', this.measureOnReady);
  }

  /** Now, in epoch ms, by Redis's clock (by this node's own until a first measure succeeds). */
  readonly now = (): number => Date.now() + this.offsetMs;

  /** This node's clock minus Redis's, in ms (as last measured). */
  get skewMs(): number {
    return -this.offsetMs;
  }

  /** Measures the offset once; the last one stands if Redis does not answer, or answers slowly. */
  async measure(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    try {
      const sent = Date.now();
      const [seconds, micros] = await this.redis.time();
      const received = Date.now();
      if (received - sent > maxRoundTripMs) return;
      this.offsetMs = Math.round(Number(seconds) * 1000 + Number(micros) / 1000 - (sent + received) / 2);
    } catch {
      // Redis away: the connection's own error handler reports it.
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.redis.off('ready', this.measureOnReady);
  }
}
