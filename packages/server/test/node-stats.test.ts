import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeStats } from '@pns/protocol';
import fc from 'fast-check';
import { quantile, totalOf } from '../src/admin/node-stats.js';
import { deliveryLatencyBuckets } from '../src/ops/metrics.js';

const bucketCount = deliveryLatencyBuckets.length + 1;

function countsAt(entries: Record<number, number>): number[] {
  return Array.from({ length: bucketCount }, (_, index) => entries[index] ?? 0);
}

/** A node with nothing going on (the sum over no nodes), then `overrides`. */
function node(name: string, overrides: Partial<NodeStats>): NodeStats {
  return { ...totalOf([], 1000), node: name, startedAt: 500, ...overrides };
}

describe('node stats', () => {
  describe('#quantile', () => {
    it('is null without deliveries', () => {
      assert.equal(quantile(countsAt({}), 0.5), null);
    });

    it('interpolates within the bucket holding the quantile, from 0 in the first', () => {
      // 10 deliveries at ≤ 1 ms: the median is half-way into that bucket.
      assert.equal(quantile(countsAt({ 0: 10 }), 0.5), 0.0005);
      // 4 in (1 ms, 2.5 ms], 4 in (2.5 ms, 5 ms]: p50 is the top of the first, p75 the middle of the second.
      assert.equal(quantile(countsAt({ 1: 4, 2: 4 }), 0.5), 0.0025);
      assert.equal(quantile(countsAt({ 1: 4, 2: 4 }), 0.75), 0.00375);
    });

    it('answers the last finite bound for deliveries slower than every bucket', () => {
      assert.equal(quantile(countsAt({ [bucketCount - 1]: 3 }), 0.99), deliveryLatencyBuckets.at(-1));
    });

    it('grows with q and stays within the buckets', () => {
      fc.assert(
        fc.property(
          fc.array(fc.nat(1000), { minLength: bucketCount, maxLength: bucketCount }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          (counts, a, b) => {
            const [low, high] = a <= b ? [a, b] : [b, a];
            const lower = quantile(counts, low);
            const upper = quantile(counts, high);
            if (counts.every((count) => count === 0)) return lower === null && upper === null;
            return lower !== null && upper !== null && lower <= upper && lower >= 0 && upper <= (deliveryLatencyBuckets.at(-1) as number);
          },
        ),
        { numRuns: 500 },
      );
    });
  });

  describe('#totalOf', () => {
    it('sums counts and rates, keeps the busiest event loop, and merges latency from the buckets', () => {
      const a = node('a:1', {
        held: { longpoll: 3, sse: 1, websocket: 0 },
        publishedPerSecond: 2,
        deliveredPerSecond: 5,
        published: 10,
        eventLoopBusy: 0.5,
        latencyCounts: countsAt({ 0: 99 }),
      });
      const b = node('b:2', {
        held: { longpoll: 1, sse: 0, websocket: 7 },
        publishedPerSecond: 1,
        deliveredPerSecond: 3,
        published: 4,
        eventLoopBusy: 0.25,
        startedAt: 100,
        latencyCounts: countsAt({ 4: 1 }),
      });
      const total = totalOf([a, b], 2000);
      assert.equal(total.node, 'all');
      assert.deepEqual(total.held, { longpoll: 4, sse: 1, websocket: 7 });
      assert.equal(total.publishedPerSecond, 3);
      assert.equal(total.deliveredPerSecond, 8);
      assert.equal(total.published, 14);
      assert.equal(total.eventLoopBusy, 0.5);
      assert.equal(total.startedAt, 100);
      assert.equal(total.latency.count, 100);
      assert.ok((total.latency.p50 as number) <= 0.001, 'the median is in the fast bucket');
      assert.ok((total.latency.p99 as number) <= 0.001, '99 of 100 are fast');
      assert.ok((quantile(total.latencyCounts, 0.995) as number) > 0.01, 'the slow one is the tail');
    });

    it('is all zeros and null percentiles for no nodes', () => {
      const total = totalOf([], 5);
      assert.equal(total.latency.p99, null);
      assert.deepEqual(total.held, { longpoll: 0, sse: 0, websocket: 0 });
    });
  });
});
