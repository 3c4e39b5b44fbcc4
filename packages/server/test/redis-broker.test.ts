import { describe } from 'node:test';
import { type RedisInstance, redisSkipReason, startRedis } from '@pns/test-support';
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
