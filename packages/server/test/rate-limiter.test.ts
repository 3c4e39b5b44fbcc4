import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PublishRateLimiter, type PublishRateOptions } from '../src/http/rate-limiter.js';

/** A limiter for keys `a` and `b` on a clock the test moves by hand. */
function makeLimiter(options: Partial<PublishRateOptions> = {}): { limiter: PublishRateLimiter; advance: (ms: number) => void } {
  let time = 5_000;
  const limiter = new PublishRateLimiter(['a', 'b'], { rate: 5, burst: 10, now: () => time, ...options });
  return {
    limiter,
    advance: (ms) => {
      time += ms;
    },
  };
}

describe('PublishRateLimiter', { timeout: 10_000 }, () => {
  describe('#take', () => {
    it('lets a full burst through at once, then refuses', () => {
      const { limiter } = makeLimiter();
      assert.equal(limiter.take('a', 4), undefined);
      assert.equal(limiter.take('a', 6), undefined);
      assert.deepEqual(limiter.take('a', 1), { reason: 'rate', retryAfterSeconds: 1 });
    });

    it('refills at the rate, continuously, up to the burst and no further', () => {
      const { limiter, advance } = makeLimiter();
      assert.equal(limiter.take('a', 10), undefined);
      advance(200); // 5 a second: one message per 200 ms
      assert.equal(limiter.take('a', 1), undefined);
      assert.equal(limiter.take('a', 1)?.reason, 'rate');
      advance(600);
      assert.equal(limiter.take('a', 3), undefined);
      advance(60_000);
      assert.equal(limiter.take('a', 10), undefined, 'a quiet minute fills the bucket');
      assert.equal(limiter.take('a', 1)?.reason, 'rate', 'but only up to the burst');
    });

    it('takes nothing from a refused request', () => {
      const { limiter, advance } = makeLimiter();
      assert.equal(limiter.take('a', 8), undefined);
      assert.equal(limiter.take('a', 5)?.reason, 'rate');
      assert.equal(limiter.take('a', 2), undefined, 'the two left are still there');
      advance(400);
      assert.equal(limiter.take('a', 2), undefined);
    });

    it('answers the whole seconds until the request would fit, at least 1', () => {
      const { limiter, advance } = makeLimiter();
      assert.equal(limiter.take('a', 10), undefined);
      assert.deepEqual(limiter.take('a', 1), { reason: 'rate', retryAfterSeconds: 1 }, '200 ms rounds up to 1 s');
      assert.deepEqual(limiter.take('a', 5), { reason: 'rate', retryAfterSeconds: 1 }, 'exactly 1 s');
      assert.deepEqual(limiter.take('a', 6), { reason: 'rate', retryAfterSeconds: 2 }, '1.2 s rounds up');
      assert.deepEqual(limiter.take('a', 10), { reason: 'rate', retryAfterSeconds: 2 });
      advance(1000);
      assert.deepEqual(limiter.take('a', 10), { reason: 'rate', retryAfterSeconds: 1 }, 'less to wait once time passed');
      advance(1000);
      assert.equal(limiter.take('a', 10), undefined, 'and it fits when that time is up');
    });

    it('gives each key a bucket of its own', () => {
      const { limiter } = makeLimiter();
      assert.equal(limiter.take('a', 10), undefined);
      assert.equal(limiter.take('a', 1)?.reason, 'rate');
      assert.equal(limiter.take('b', 10), undefined, 'b is untouched by a');
      assert.equal(limiter.take('b', 1)?.reason, 'rate');
    });

    it('refuses a batch larger than the burst as never fitting, whatever the bucket holds', () => {
      const { limiter } = makeLimiter();
      assert.deepEqual(limiter.take('a', 11), { reason: 'burst', burst: 10 });
      assert.equal(limiter.take('a', 10), undefined, 'nothing was taken');
    });

    it('limits nothing at rate 0', () => {
      const { limiter } = makeLimiter({ rate: 0 });
      for (let i = 0; i < 100; i++) assert.equal(limiter.take('a', 1000), undefined);
    });

    it('takes fractions of a message per second', () => {
      const { limiter, advance } = makeLimiter({ rate: 0.5, burst: 1 });
      assert.equal(limiter.take('a', 1), undefined);
      assert.deepEqual(limiter.take('a', 1), { reason: 'rate', retryAfterSeconds: 2 });
      advance(2000);
      assert.equal(limiter.take('a', 1), undefined);
    });

    it('throws for a scope that is no configured key (a bug in the caller)', () => {
      const { limiter } = makeLimiter();
      assert.throws(() => limiter.take('stranger', 1));
    });
  });
});
