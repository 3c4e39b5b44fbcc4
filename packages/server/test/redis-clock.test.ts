// The shared clock (Redis's, measured with TIME) and what judges time by it: a node whose own clock is off
// still reads another node's fresh dashboard sample as fresh, and a stale one as stale.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { NodeStats } from '@pns/protocol';
import { RedisNodeBoard } from '../src/admin/node-board.js';
import { RedisClock } from '../src/broker/redis-clock.js';
import type { RedisClient } from '../src/broker/redis-connection.js';

/**
 * A Redis whose TIME is `aheadMs` ahead of this process's clock, answering after `latencyMs`. A stand-in: a real
 * redis-server reads this machine's clock (chaos-clock.test.ts skews one with faketime).
 */
function redisAhead(aheadMs: number, latencyMs = 0): RedisClient & EventEmitter {
  return Object.assign(new EventEmitter(), {
    status: 'ready',
    time: async () => {
      await new Promise((resolve) => setTimeout(resolve, latencyMs));
      const now = Date.now() + aheadMs;
      return [String(Math.floor(now / 1000)), String((now % 1000) * 1000)];
    },
  }) as unknown as RedisClient & EventEmitter;
}

describe('RedisClock', () => {
  it('reads Redis’s time through the offset it measured', async () => {
    const clock = new RedisClock(redisAhead(30_000));
    try {
      assert.ok(Math.abs(clock.now() - Date.now()) < 5, 'before a measure: this process’s clock');
      await clock.measure();
      assert.ok(Math.abs(clock.now() - (Date.now() + 30_000)) < 50, `now() is ${clock.now() - Date.now()} ms ahead`);
      assert.ok(Math.abs(clock.skewMs + 30_000) < 50);
    } finally {
      clock.stop();
    }
  });

  it('keeps the last offset when Redis answers too slowly to tell', async () => {
    const clock = new RedisClock(redisAhead(-60_000, 300));
    try {
      await clock.measure();
      assert.ok(Math.abs(clock.now() - Date.now()) < 5);
    } finally {
      clock.stop();
    }
  });

  it('measures again when its connection is ready again (Redis may be another machine), until stopped', async () => {
    const redis = redisAhead(20_000);
    const clock = new RedisClock(redis);
    redis.emit('ready');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(Math.abs(clock.skewMs + 20_000) < 50, `skew ${clock.skewMs} ms`);
    clock.stop();
    assert.equal(redis.listenerCount('ready'), 0);
  });
});

describe('RedisNodeBoard on a shared clock', () => {
  const sample = (node: string, at: number): string => JSON.stringify({ node, at, latencyCounts: [] } as Partial<NodeStats>);

  it('judges samples by the clock it is given, not this process’s', async () => {
    const redisNow = Date.now() - 30_000; // this process is 30 s ahead of Redis
    const deleted: string[] = [];
    const redis = {
      hgetall: async () => ({ fresh: sample('fresh', redisNow - 1000), stale: sample('stale', redisNow - 8000) }),
      hdel: async (_key: string, ...fields: string[]) => deleted.push(...fields),
    } as unknown as RedisClient;
    const board = new RedisNodeBoard({ redis, prefix: 'p', staleMs: 5000, now: () => redisNow });
    assert.deepEqual(
      (await board.list()).map(({ node }) => node),
      ['fresh'],
    );
    assert.deepEqual(deleted, []);
    // By this process's own clock both would look 31 s and 38 s old: gone from the board.
    const skewed = new RedisNodeBoard({ redis, prefix: 'p', staleMs: 5000 });
    assert.deepEqual(await skewed.list(), []);
  });
});
