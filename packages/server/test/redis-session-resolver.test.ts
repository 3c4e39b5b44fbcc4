import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PnsError } from '@pns/protocol';
import { type RedisInstance, redisSkipReason, startRedis } from '@pns/test-support';
import { Redis } from 'ioredis';
import { RedisSessionResolver } from '../src/auth/redis-session-resolver.js';
import { BrokerUnavailableError } from '../src/broker/broker.js';
import { toPnsError } from '../src/http/errors.js';

const noRedis = redisSkipReason();
const keyTemplate = 'session:{sid}';

/** The catalog code a resolve ends with, as the HTTP layer would answer it; 'resolved' if it did not fail. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PnsError || error instanceof BrokerUnavailableError, String(error));
    return toPnsError(error).code;
  }
  return 'resolved';
}

function client(server: RedisInstance): Redis {
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // reconnects are expected in the unavailable case
  return redis;
}

describe('RedisSessionResolver', { skip: noRedis, timeout: 30_000 }, () => {
  let server: RedisInstance;
  let redis: Redis;
  before(async () => {
    server = await startRedis();
    redis = client(server);
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  describe('#resolve', () => {
    it('takes a plain value as the user id, without topics or expiry', async () => {
      await redis.set('session:plain-1', '42');
      const session = await new RedisSessionResolver({ redis, keyTemplate }).resolve('plain-1');
      assert.equal(session.userId, '42');
      assert.equal(session.topics.size, 0);
      assert.equal(session.expiresAt, undefined);
    });

    it('takes JSON with the user as userId, user or sub, and topics', async () => {
      const resolver = new RedisSessionResolver({ redis, keyTemplate });
      await redis.set('session:json-1', JSON.stringify({ userId: '7', topics: ['news', 'sport'] }));
      await redis.set('session:json-2', JSON.stringify({ user: 'u@example.com' }));
      await redis.set('session:json-3', JSON.stringify({ sub: 'abc', topics: [] }));
      const session = await resolver.resolve('json-1');
      assert.equal(session.userId, '7');
      assert.deepEqual([...session.topics], ['news', 'sport']);
      assert.equal((await resolver.resolve('json-2')).userId, 'u@example.com');
      assert.equal((await resolver.resolve('json-3')).userId, 'abc');
    });

    it('gives the expiry from the key TTL', async () => {
      const now = Date.now();
      await redis.set('session:ttl-1', '42', 'PX', 60_000);
      const { expiresAt } = await new RedisSessionResolver({ redis, keyTemplate, now: () => now }).resolve('ttl-1');
      assert.ok(expiresAt !== undefined && expiresAt > now + 55_000 && expiresAt <= now + 60_000, String(expiresAt));
    });

    it('refuses a missing key as SESSION_EXPIRED', async () => {
      assert.equal(await codeOf(new RedisSessionResolver({ redis, keyTemplate }).resolve('nobody')), 'SESSION_EXPIRED');
    });

    it('refuses a value of another shape as SESSION_INVALID', async () => {
      const resolver = new RedisSessionResolver({ redis, keyTemplate });
      const values = [
        'has space',
        '{"userId":',
        '{"topics":["news"]}',
        '{"userId":42}',
        '{"userId":"7","topics":"news"}',
        '{"user":"7","topics":["a b"]}',
      ];
      for (const [i, value] of values.entries()) {
        await redis.set(`session:bad-${i}`, value);
        assert.equal(await codeOf(resolver.resolve(`bad-${i}`)), 'SESSION_INVALID', value);
      }
      await redis.hset('session:hash', 'userId', '7');
      assert.equal(await codeOf(resolver.resolve('hash')), 'SESSION_INVALID', 'a hash, not a string');
    });

    it('refuses an implausible sid as SESSION_INVALID without asking Redis', async () => {
      const unused = {
        multi: () => assert.fail('Redis was asked'),
      } as unknown as Redis;
      const resolver = new RedisSessionResolver({ redis: unused, keyTemplate });
      for (const sid of ['', 'x'.repeat(513), 'a b', 'a\nb', 'a\u0000b', 'a\u00a0b']) {
        assert.equal(await codeOf(resolver.resolve(sid)), 'SESSION_INVALID', JSON.stringify(sid));
      }
    });

    it('serves a found session from its cache for cacheMs, then asks Redis again', async () => {
      let now = Date.now();
      const resolver = new RedisSessionResolver({ redis, keyTemplate, cacheMs: 5000, now: () => now });
      await redis.set('session:cached-1', '42');
      const first = await resolver.resolve('cached-1');
      await redis.del('session:cached-1');
      now += 4999;
      assert.equal(await resolver.resolve('cached-1'), first, 'a deleted session is still served within cacheMs');
      now += 2;
      assert.equal(await codeOf(resolver.resolve('cached-1')), 'SESSION_EXPIRED');
    });

    it('asks Redis again once a cached session reaches its expiry, which the application may have extended', async () => {
      let now = Date.now();
      const resolver = new RedisSessionResolver({ redis, keyTemplate, cacheMs: 60_000, now: () => now });
      await redis.set('session:sliding-1', '42', 'PX', 1000);
      const first = await resolver.resolve('sliding-1');
      await redis.pexpire('session:sliding-1', 30_000);
      now += 1500;
      const second = await resolver.resolve('sliding-1');
      assert.notEqual(second, first);
      assert.ok(second.expiresAt !== undefined && second.expiresAt > now + 25_000, String(second.expiresAt));
    });

    it('shares one lookup among concurrent resolves of one sid', async () => {
      await redis.set('session:shared-1', '42');
      const resolver = new RedisSessionResolver({ redis, keyTemplate });
      const [a, b] = await Promise.all([resolver.resolve('shared-1'), resolver.resolve('shared-1')]);
      assert.equal(a, b);
    });

    it('fails as BACKEND_UNAVAILABLE within its timeout when Redis is down, though ioredis queues the command', async () => {
      const own = await startRedis();
      // Defaults (an offline queue, 20 retries per command), but a short disconnectTimeout: ioredis arms that timer even
      // for a socket already closed, which would hold the test process 2 s.
      const queuing = new Redis(own.url, { disconnectTimeout: 10 });
      queuing.on('error', () => {});
      try {
        await queuing.set('session:down-1', '42');
        const resolver = new RedisSessionResolver({ redis: queuing, keyTemplate, cacheMs: 0, timeoutMs: 300 });
        assert.equal((await resolver.resolve('down-1')).userId, '42');
        await own.kill();
        const started = Date.now();
        assert.equal(await codeOf(resolver.resolve('down-1')), 'BACKEND_UNAVAILABLE');
        assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
      } finally {
        queuing.disconnect();
        await own.stop();
      }
    });

    it('fails as BACKEND_UNAVAILABLE within its timeout when Redis does not answer', async () => {
      const accepted: Socket[] = [];
      const silent = createServer((socket) => accepted.push(socket)); // accepts, never answers
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const hanging = new Redis((silent.address() as AddressInfo).port, '127.0.0.1', { disconnectTimeout: 10 });
      hanging.on('error', () => {});
      try {
        const started = Date.now();
        const resolver = new RedisSessionResolver({ redis: hanging, keyTemplate, timeoutMs: 300 });
        assert.equal(await codeOf(resolver.resolve('silent-1')), 'BACKEND_UNAVAILABLE');
        assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
      } finally {
        hanging.disconnect();
        for (const socket of accepted) socket.destroy();
        silent.close();
      }
    });
  });
});
