import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig, rawOptionsFrom } from '../src/config/load-config.js';
import { descriptorReserve, maxConnectionsFor, readOpenFileLimit } from '../src/config/open-file-limit.js';
import { jwksFolder, keySet, signingKey } from './support/jwks.js';

const keys = { secret: 'a-secret-of-16-chars+', publishKey: 'a-publish-key-16-chars' };

function problems(raw: Parameters<typeof loadConfig>[0]): string[] {
  try {
    loadConfig(raw);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', { timeout: 10_000 }, () => {
  describe('#defaults', () => {
    it('gives the documented defaults', () => {
      const config = loadConfig({ ...keys });
      assert.equal(config.port, 7070);
      assert.equal(config.holdSeconds, 25);
      assert.equal(config.maxHoldSeconds, 120);
      assert.equal(config.retentionCount, 1000);
      assert.equal(config.ttlSeconds, 600);
      assert.equal(config.memoryMb, 256);
      assert.equal(config.backlog, 4096);
      assert.equal(config.maxPollsPerSession, 4);
      assert.equal(config.pageLimit, 100);
      assert.equal(config.maxBodyBytes, 65_536);
      assert.equal(config.publishRate, 1000);
      assert.equal(config.publishBurst, 10_000);
      assert.deepEqual(config.corsOrigins, []);
      assert.equal(config.devMode, false);
      assert.equal(config.host, '0.0.0.0');
    });

    it('starts in dev mode without a secret: loopback only, generated keys', () => {
      const config = loadConfig({ host: '0.0.0.0' });
      assert.equal(config.devMode, true);
      assert.equal(config.host, '127.0.0.1');
      assert.ok(config.secret && config.secret.length >= 32);
      assert.ok(config.publishKey.length >= 32);
      assert.notEqual(config.secret, config.publishKey);
    });
  });

  describe('#validation', () => {
    it('reports every problem at once, by variable and flag', () => {
      const found = problems({ ...keys, port: 'abc', holdSeconds: '-1', logLevel: 'loud' });
      assert.equal(found.length, 3);
      assert.ok(found.some((p) => p.startsWith('PNS_PORT / --port')));
      assert.ok(found.some((p) => p.startsWith('PNS_HOLD_SECONDS / --hold-seconds')));
      assert.ok(found.some((p) => p.startsWith('PNS_LOG_LEVEL / --log-level')));
    });

    it('requires a publish key with a secret, different from it', () => {
      assert.equal(problems({ secret: keys.secret }).length, 1);
      assert.equal(problems({ secret: keys.secret, publishKey: keys.secret }).length, 1);
    });

    it('takes comma-separated secrets and publish keys, the first of each to sign with, all refused if too short or shared', () => {
      const config = loadConfig({
        secret: 'next-secret-0123456789, old-secret-0123456789',
        publishKey: 'next-key-0123456789,old-key-0123456789',
      });
      assert.deepEqual(config.secrets, ['next-secret-0123456789', 'old-secret-0123456789']);
      assert.equal(config.secret, 'next-secret-0123456789');
      assert.deepEqual(config.publishKeys, ['next-key-0123456789', 'old-key-0123456789']);
      assert.equal(config.publishKey, 'next-key-0123456789');
      assert.equal(problems({ secret: `${keys.secret},short`, publishKey: keys.publishKey }).length, 1);
      assert.equal(problems({ secret: `${keys.secret},`, publishKey: keys.publishKey }).length, 1);
      assert.equal(problems({ secret: keys.secret, publishKey: `${keys.publishKey},${keys.secret}` }).length, 1);
    });

    it('refuses short secrets and a default hold above the maximum', () => {
      assert.equal(problems({ secret: 'short', publishKey: keys.publishKey }).length, 1);
      assert.equal(problems({ ...keys, holdSeconds: '30', maxHoldSeconds: '20' }).length, 1);
      assert.equal(problems({ ...keys, ttlSeconds: '100', retentionSeconds: '50' }).length, 1);
    });
  });

  describe('#publish rate', () => {
    it('bursts 10 × the rate by default, never less than a full batch of 1000', () => {
      assert.equal(loadConfig({ ...keys, publishRate: '250' }).publishBurst, 2500);
      assert.equal(loadConfig({ ...keys, publishRate: '5' }).publishBurst, 1000);
      assert.equal(loadConfig({ ...keys, publishRate: '0' }).publishBurst, 1000);
      assert.equal(loadConfig({ ...keys, publishRate: '2.5' }).publishRate, 2.5);
      assert.equal(loadConfig({ ...keys, publishRate: '5', publishBurst: '10' }).publishBurst, 10);
    });

    it('refuses a negative, empty or non-numeric rate and a burst below 1', () => {
      for (const publishRate of ['-1', '', 'fast', '1e3', 'Infinity']) {
        assert.deepEqual(
          problems({ ...keys, publishRate }).map((p) => p.split(':')[0]),
          ['PNS_PUBLISH_RATE / --publish-rate'],
          publishRate,
        );
      }
      for (const publishBurst of ['0', '-5', '1.5', '']) {
        assert.deepEqual(
          problems({ ...keys, publishBurst }).map((p) => p.split(':')[0]),
          ['PNS_PUBLISH_BURST / --publish-burst'],
          publishBurst,
        );
      }
    });
  });

  describe('#rawOptionsFrom', () => {
    it('reads PNS_* variables, and flags win', () => {
      const raw = rawOptionsFrom({ PNS_PORT: '9000', PNS_HOLD_SECONDS: '10', PNS_CORS_ORIGINS: 'a, b' }, { port: '9100' });
      const config = loadConfig({ ...keys, ...raw });
      assert.equal(config.port, 9100);
      assert.equal(config.holdSeconds, 10);
      assert.deepEqual(config.corsOrigins, ['a', 'b']);
    });
  });

  describe('#redis', () => {
    it('uses the memory broker and one worker without PNS_REDIS_URL', () => {
      const config = loadConfig({ ...keys });
      assert.deepEqual(config.redisUrl, []);
      assert.equal(config.redisCluster, false);
      assert.equal(config.workers, 1);
      assert.equal(config.sessionRedisKey, undefined);
    });

    it('runs a worker per core with Redis unless told otherwise', () => {
      assert.ok(loadConfig({ ...keys, redisUrl: 'redis://127.0.0.1:6379' }).workers >= 1);
      assert.equal(loadConfig({ ...keys, redisUrl: 'redis://127.0.0.1:6379', workers: '3' }).workers, 3);
    });

    it('refuses several workers without Redis, several URLs without cluster mode, and a session key without a Redis', () => {
      assert.match(problems({ ...keys, workers: '2' }).join(), /PNS_WORKERS/);
      assert.match(problems({ ...keys, redisUrl: 'redis://a:1,redis://b:2' }).join(), /PNS_REDIS_CLUSTER/);
      assert.match(problems({ ...keys, redisCluster: 'true' }).join(), /PNS_REDIS_CLUSTER needs/);
      assert.match(problems({ ...keys, sessionRedisKey: 'session:{sid}' }).join(), /PNS_SESSION_REDIS_KEY/);
      assert.match(problems({ ...keys, redisUrl: 'localhost:6379' }).join(), /PNS_REDIS_URL/);
      assert.match(problems({ ...keys, redisUrl: 'redis://a:1', sessionRedisKey: 'session' }).join(), /\{sid\}/);
    });

    it('reads the sessions from the broker’s Redis unless given its own', () => {
      const shared = loadConfig({ ...keys, redisUrl: 'redis://127.0.0.1:6379', sessionRedisKey: 'session:{sid}' });
      assert.equal(shared.sessionRedisUrl, undefined);
      assert.equal(shared.sessionRedisKey, 'session:{sid}');
      const own = loadConfig({ ...keys, sessionRedisKey: 'sess:{sid}', sessionRedisUrl: 'redis://127.0.0.1:6380' });
      assert.equal(own.sessionRedisUrl, 'redis://127.0.0.1:6380');
      assert.deepEqual(own.redisUrl, []);
    });
  });

  describe('#jwks', () => {
    const folder = jwksFolder();
    let file = '';
    let set: Awaited<ReturnType<typeof keySet>>;
    before(async () => {
      set = keySet(await signingKey('RS256', 'rsa'), await signingKey('ES256', 'ec'));
      file = folder.write('jwks.json', set);
    });
    after(() => folder.remove());

    it('reads a JWKS file at start, takes an https:// URL as is, and http:// only on loopback', () => {
      const config = loadConfig({ ...keys, jwks: file });
      assert.deepEqual(config.jwks, { path: file, keys: set });
      assert.deepEqual(config.secrets, [keys.secret], 'HS256 tokens keep working next to a JWKS');
      const remote = loadConfig({ ...keys, jwks: 'https://id.example.com/.well-known/jwks.json' }).jwks;
      assert.ok(remote && 'url' in remote);
      assert.equal(remote.url.href, 'https://id.example.com/.well-known/jwks.json');
      assert.ok(loadConfig({ ...keys, jwks: 'http://127.0.0.1:8080/jwks' }).jwks);
      assert.ok(loadConfig({ ...keys, jwks: 'http://localhost:8080/jwks' }).jwks);
      const clear = problems({ ...keys, jwks: 'http://id.example.com/jwks' });
      assert.equal(clear.length, 1);
      assert.match(clear[0] as string, /^PNS_JWKS/);
      assert.equal(loadConfig({ ...keys }).jwks, undefined);
    });

    it('runs with a JWKS and no secret: not dev mode, no secret to sign with, and a publish key still required', () => {
      const config = loadConfig({ jwks: file, publishKey: keys.publishKey, host: '0.0.0.0' });
      assert.equal(config.devMode, false);
      assert.equal(config.host, '0.0.0.0');
      assert.deepEqual(config.secrets, []);
      assert.equal(config.secret, undefined);
      assert.equal(config.demo, false);
      assert.match(problems({ jwks: file }).join(), /PNS_PUBLISH_KEY/);
      assert.match(problems({ jwks: file, publishKey: keys.publishKey, demo: 'true' }).join(), /PNS_DEMO needs PNS_SECRET/);
    });

    it('refuses a file that cannot serve, naming PNS_JWKS, along with every other problem', () => {
      const bad = [
        '/nonexistent/jwks.json',
        folder.write('not-json.json', '{"keys": ['),
        folder.write('not-a-set.json', { kty: 'RSA' }),
        folder.write('private.json', { keys: [{ ...set.keys[0], d: 'c2VjcmV0' }] }),
        folder.write('secret.json', { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }),
        folder.write('broken-key.json', { keys: [{ ...set.keys[1], x: 'AAAA' }] }),
        folder.write('no-usable-key.json', { keys: [{ ...set.keys[0], alg: 'RS512' }] }),
        folder.write('empty.json', { keys: [] }),
      ];
      for (const jwks of bad) {
        const found = problems({ ...keys, jwks, port: 'abc' });
        assert.equal(found.length, 2, `${jwks}: ${found.join('; ')}`);
        assert.ok(
          found.some((problem) => problem.startsWith('PNS_JWKS / --jwks')),
          jwks,
        );
      }
      assert.match(problems({ ...keys, jwks: 'https://' }).join(), /PNS_JWKS/);
    });

    it('takes an issuer and an audience, and refuses JWT settings that sessions from Redis would ignore', () => {
      const config = loadConfig({ ...keys, jwtIssuer: 'https://id.example.com', jwtAudience: 'pns' });
      assert.equal(config.jwtIssuer, 'https://id.example.com');
      assert.equal(config.jwtAudience, 'pns');
      assert.equal(loadConfig({ ...keys }).jwtIssuer, undefined);
      assert.match(problems({ ...keys, jwtIssuer: '' }).join(), /PNS_JWT_ISSUER/);
      const redis = { ...keys, redisUrl: 'redis://127.0.0.1:6379', sessionRedisKey: 'session:{sid}' };
      assert.equal(problems({ ...redis, jwks: file, jwtIssuer: 'i', jwtAudience: 'a' }).length, 3);
    });
  });
});

describe('open-file limit', { timeout: 10_000 }, () => {
  it('reads the soft limit of this process', () => {
    const limit = readOpenFileLimit();
    assert.ok(limit === undefined || limit > 0);
  });

  it('keeps a reserve below the limit for the connection cap', () => {
    assert.equal(maxConnectionsFor(20_000), 20_000 - descriptorReserve);
    assert.equal(maxConnectionsFor(undefined), 10_000);
  });

  it('is undefined where the limits file does not exist', () => {
    assert.equal(readOpenFileLimit('/nonexistent/limits'), undefined);
  });
});
