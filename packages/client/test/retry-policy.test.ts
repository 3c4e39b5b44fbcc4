import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, defaultRetryOptions, networkDelay, parseRetryAfter } from '../src/retry-policy.js';

const options = defaultRetryOptions;
const fresh = { failures: 0, canRefresh: false };

describe('retry policy', { timeout: 10_000 }, () => {
  describe('#decide', () => {
    it('polls again at once after a good answer, or after pollDelayMs', () => {
      assert.deepEqual(decide({ kind: 'answer', superseded: false, holdMs: 25_000 }, fresh, options), { kind: 'poll', delayMs: 0 });
      assert.deepEqual(decide({ kind: 'answer', superseded: false, holdMs: 25_000 }, fresh, { ...options, pollDelayMs: 500 }), {
        kind: 'poll',
        delayMs: 500,
      });
    });

    it('waits one hold after superseded', () => {
      assert.deepEqual(decide({ kind: 'answer', superseded: true, holdMs: 25_000 }, fresh, options), { kind: 'poll', delayMs: 25_000 });
    });

    it('retries a network error after about 500 ms the first time, and after Retry-After when longer', () => {
      const first = decide({ kind: 'network', retryAfterMs: undefined }, { failures: 1, canRefresh: false }, options, () => 0);
      assert.deepEqual(first, { kind: 'poll', delayMs: 500 });
      const proxy = decide({ kind: 'network', retryAfterMs: 0 }, { failures: 1, canRefresh: false }, options, () => 0);
      assert.deepEqual(proxy, { kind: 'poll', delayMs: 500 }, 'a proxy saying Retry-After: 0 does not make a tight loop');
      const slow = decide({ kind: 'network', retryAfterMs: 9000 }, { failures: 1, canRefresh: false }, options, () => 0);
      assert.deepEqual(slow, { kind: 'poll', delayMs: 9000 });
    });

    it('waits 2 minutes after a pns server error without Retry-After, exactly Retry-After with one', () => {
      const error = { kind: 'error', status: 503, code: 'BACKEND_UNAVAILABLE' } as const;
      assert.deepEqual(decide({ ...error, retryAfterMs: undefined }, fresh, options), { kind: 'poll', delayMs: 120_000 });
      assert.deepEqual(decide({ ...error, code: 'SHUTTING_DOWN', retryAfterMs: 3000 }, fresh, options), { kind: 'poll', delayMs: 3000 });
      assert.deepEqual(decide({ ...error, retryAfterMs: 0 }, fresh, options), { kind: 'poll', delayMs: 500 }, 'never sooner than the base');
      assert.deepEqual(decide({ kind: 'error', status: 429, code: 'RATE_LIMITED', retryAfterMs: 7000 }, fresh, options), {
        kind: 'poll',
        delayMs: 7000,
      });
    });

    it('stops on a 4xx a retry cannot fix', () => {
      for (const [status, code] of [
        [400, 'BAD_REQUEST'],
        [403, 'CHANNEL_FORBIDDEN'],
        [404, 'NOT_FOUND'],
        [413, 'PAYLOAD_TOO_LARGE'],
        [404, 'HTTP_404'],
      ] as const) {
        assert.deepEqual(decide({ kind: 'error', status, code, retryAfterMs: undefined }, fresh, options), {
          kind: 'stop',
          reason: 'fatal',
        });
      }
    });

    it('asks for a fresh token once on a session error, then stops', () => {
      for (const code of ['SESSION_EXPIRED', 'SESSION_INVALID']) {
        const outcome = { kind: 'error', status: 401, code, retryAfterMs: undefined } as const;
        assert.deepEqual(decide(outcome, { failures: 0, canRefresh: true }, options), { kind: 'refresh' });
        assert.deepEqual(decide(outcome, { failures: 0, canRefresh: false }, options), { kind: 'stop', reason: 'session' });
      }
    });
  });

  describe('#networkDelay', () => {
    it('starts at 500–750 ms, then spreads between the base and a doubling wait capped at 30 s', () => {
      assert.equal(
        networkDelay(1, options, () => 0),
        500,
      );
      assert.equal(
        networkDelay(1, options, () => 1),
        750,
      );
      assert.equal(
        networkDelay(2, options, () => 1),
        1000,
      );
      assert.equal(
        networkDelay(3, options, () => 1),
        2000,
      );
      assert.equal(
        networkDelay(3, options, () => 0),
        500,
      );
      assert.equal(
        networkDelay(30, options, () => 1),
        30_000,
      );
      const spread = Array.from({ length: 200 }, () => networkDelay(10, options));
      for (const delay of spread) assert.ok(delay >= 500 && delay <= 30_000);
      assert.ok(new Set(spread).size > 150, 'jitter spreads retries');
      assert.ok(spread.filter((delay) => delay < 1000).length < 40, 'no lump at the base');
    });
  });

  describe('#parseRetryAfter', () => {
    it('reads seconds and HTTP dates', () => {
      assert.equal(parseRetryAfter('2'), 2000);
      assert.equal(parseRetryAfter(null), undefined);
      assert.equal(parseRetryAfter('soon'), undefined);
      assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4000), 6000);
    });
  });
});
