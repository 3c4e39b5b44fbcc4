import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RedisInstance, redisCommand, redisSkipReason, startRedis } from '@pns/test-support';
import { RedisBroker } from '../src/broker/redis-broker.js';
import { connectRedis, createRedisClients } from '../src/broker/redis-connection.js';
import { brokerConformance } from './conformance/broker-conformance.js';

const noRedis = redisSkipReason();

/** A broker on `redis` with a key prefix of its own, so runs never see each other's keys. */
async function makeBroker(redis: RedisInstance, prefix: string): Promise<RedisBroker> {
  const clients = createRedisClients({ urls: [redis.url], cluster: false, connectionName: prefix });
  await Promise.all([connectRedis(clients.redis, 5000), connectRedis(clients.subscriber, 5000)]);
  return new RedisBroker({ ...clients, cluster: false, prefix, retentionCount: 5, channelIdleMs: 60_000 });
}

describe('RedisBroker', { skip: noRedis }, () => {
  brokerConformance('RedisBroker', async () => {
    const redis = await startRedis();
    const broker = await makeBroker(redis, `conformance-${process.pid}`);
    return {
      broker,
      cleanup: async () => {
        await broker.close();
        await redis.stop();
      },
    };
  });
});

describe('RedisBroker, what only Redis can do', { skip: noRedis, timeout: 30_000 }, () => {
  let redis: RedisInstance;
  let broker: RedisBroker;
  const prefix = `redis-only-${process.pid}`;
  const message = (channel: string) => ({
    channels: [channel],
    type: 1,
    dataJson: '"x"',
    ttlSeconds: 60,
    id: undefined,
    scope: 'a',
    fingerprint: 'f',
  });

  before(async () => {
    redis = await startRedis();
    broker = await makeBroker(redis, prefix);
  });
  after(async () => {
    await broker?.close();
    await redis?.stop();
  });

  describe('#read', () => {
    it('reports a gap under a new epoch when Redis lost a channel’s stream but kept its bookkeeping', async () => {
      const channel = 'user:lost-stream';
      const start = await broker.head(channel);
      await broker.publish([message(channel)]);
      const seen = await broker.read(channel, start, 10);
      assert.equal(seen.entries.length, 1);
      // An eviction or a partial restore: the stream is gone, the hash that names its epoch is not.
      await redisCommand(redis.port, ['DEL', `${prefix}:{${channel}}:s`]);
      await broker.publish([message(channel)]);
      const after = await broker.read(channel, seen.to, 10);
      assert.equal(after.gap, true);
      assert.notEqual(after.to.epoch, seen.to.epoch);
      assert.equal(after.entries.length, 1);
    });
  });
});
