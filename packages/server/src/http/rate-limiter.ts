/**
 * The publish rate limit: a token bucket per publish key, counted in messages.
 *
 * Not @fastify/rate-limit: it counts requests, one each whatever the batch size, in fixed time windows (a burst
 * across a window boundary gets twice the limit through). A bucket refills continuously and is charged a batch's
 * message count, known only once the body is validated.
 *
 * Each node keeps its own buckets: with several nodes, each applies the limit to the publishes it receives.
 */

export interface PublishRateOptions {
  /** Messages per second each key may publish; 0 = no limit. */
  rate: number;
  /** Capacity of each bucket: how many messages a key that has been quiet may publish at once. */
  burst: number;
  /** Milliseconds on a monotonic clock; tests pass a fake one. */
  now?: () => number;
}

/** Why `take` refused: too soon (retry after whole seconds), or more messages than a bucket ever holds. */
export type RateRefusal = { reason: 'rate'; retryAfterSeconds: number } | { reason: 'burst'; burst: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class PublishRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;

  /** `scopes`: every publish key's scope, so memory is one bucket per configured key, whatever clients send. */
  constructor(scopes: readonly string[], options: PublishRateOptions) {
    this.rate = options.rate;
    this.burst = options.burst;
    this.now = options.now ?? (() => performance.now());
    const start = this.now();
    if (this.rate > 0) for (const scope of scopes) this.buckets.set(scope, { tokens: this.burst, at: start });
  }

  /** Takes `count` messages from `scope`'s bucket, or refuses and takes nothing. */
  take(scope: string, count: number): RateRefusal | undefined {
    if (this.rate === 0) return undefined;
    const bucket = this.buckets.get(scope);
    // Scopes come from the key check, which knows only the configured keys.
    if (bucket === undefined) throw new Error('no rate bucket for this publish scope');
    if (count > this.burst) return { reason: 'burst', burst: this.burst };
    const now = this.now();
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.rate) / 1000);
    bucket.at = now;
    if (bucket.tokens >= count) {
      bucket.tokens -= count;
      return undefined;
    }
    return { reason: 'rate', retryAfterSeconds: Math.max(1, Math.ceil((count - bucket.tokens) / this.rate)) };
  }
}
