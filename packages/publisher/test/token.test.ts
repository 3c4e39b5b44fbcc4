import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type SpawnedServer, spawnServer } from '@pns/test-support';
import { createToken, parseDuration } from '../src/index.js';

const secret = 'token-test-secret-0123456789';

function label(value: number | string): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

function decode(token: string): { header: Record<string, unknown>; claims: Record<string, unknown>; signed: string; signature: string } {
  const [header = '', claims = '', signature = ''] = token.split('.');
  const json = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: json(header), claims: json(claims), signed: `${header}.${claims}`, signature };
}

describe('session tokens', { timeout: 120_000 }, () => {
  describe('#parseDuration', () => {
    const valid: [number | string, number][] = [
      ['15m', 900],
      ['90s', 90],
      ['1h', 3600],
      ['7d', 604_800],
      ['42', 42],
      [' 15m ', 900],
      ['0015m', 900],
      [42, 42],
      [1.9, 1],
    ];
    for (const [input, seconds] of valid) {
      it(`parses ${label(input)} as ${seconds} s`, () => {
        assert.equal(parseDuration(input), seconds);
      });
    }

    const invalid: (number | string)[] = [
      '',
      ' ',
      'm',
      '0',
      '0m',
      '-5m',
      '1.5h',
      '15M',
      '15 m',
      '15x',
      '1h30m',
      '1e3',
      'Infinity',
      0,
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ];
    for (const input of invalid) {
      it(`refuses ${label(input)}`, () => {
        assert.equal(parseDuration(input), undefined);
      });
    }

    it('refuses a fraction of a second', () => {
      assert.equal(parseDuration(0.5), undefined);
    });

    it('refuses a number of digits too large to be a duration', () => {
      assert.equal(parseDuration('9'.repeat(400)), undefined);
    });
  });

  describe('#createToken', () => {
    it('mints an HS256 JWT with sub, topics, iat and exp, signed with the secret', async () => {
      const notBefore = Math.floor(Date.now() / 1000);
      const token = await createToken({ secret, user: '42', topics: ['news', 'ops'], ttl: '15m' });
      const { header, claims, signed, signature } = decode(token);
      assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
      assert.equal(claims.sub, '42');
      assert.deepEqual(claims.topics, ['news', 'ops']);
      assert.equal(typeof claims.iat, 'number');
      assert.ok((claims.iat as number) >= notBefore && (claims.iat as number) <= Math.floor(Date.now() / 1000));
      assert.equal((claims.exp as number) - (claims.iat as number), 900);
      assert.equal(signature, createHmac('sha256', secret).update(signed).digest('base64url'));
    });

    it('lasts one hour by default and takes a ttl in seconds', async () => {
      const standard = decode(await createToken({ secret, user: 'u' })).claims;
      assert.equal((standard.exp as number) - (standard.iat as number), 3600);
      const short = decode(await createToken({ secret, user: 'u', ttl: 90 })).claims;
      assert.equal((short.exp as number) - (short.iat as number), 90);
    });

    it('sets iss and aud when asked, and leaves them out otherwise', async () => {
      const claims = decode(await createToken({ secret, user: 'u', issuer: 'https://id.example.com', audience: 'pns' })).claims;
      assert.equal(claims.iss, 'https://id.example.com');
      assert.equal(claims.aud, 'pns');
      const plain = decode(await createToken({ secret, user: 'u' })).claims;
      assert.equal('iss' in plain || 'aud' in plain, false);
    });

    it('leaves out topics when there are none', async () => {
      assert.equal(decode(await createToken({ secret, user: 'u' })).claims.topics, undefined);
      assert.equal(decode(await createToken({ secret, user: 'u', topics: [] })).claims.topics, undefined);
    });

    for (const user of ['', 'a b', 'u'.repeat(129), 'user/1', 'caf\u00e9', 'a\nb', 'a,b']) {
      it(`rejects the user id ${JSON.stringify(user.length > 20 ? `${user.slice(0, 10)}…` : user)}`, async () => {
        await assert.rejects(createToken({ secret, user }), TypeError);
      });
    }

    for (const topic of ['', 'a b', 'news,ops', 't'.repeat(129)]) {
      it(`rejects the topic name ${JSON.stringify(topic.length > 20 ? `${topic.slice(0, 10)}…` : topic)}`, async () => {
        await assert.rejects(createToken({ secret, user: '42', topics: ['news', topic] }), TypeError);
      });
    }

    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '', 'abc', '15x', '1.5h', '-5m', '0s', '9'.repeat(400)]) {
      it(`rejects the ttl ${label(ttl).slice(0, 20)}`, async () => {
        await assert.rejects(createToken({ secret, user: '42', ttl }), TypeError);
      });
    }

    it('rejects a ttl under one second', async () => {
      await assert.rejects(createToken({ secret, user: '42', ttl: 0.5 }), TypeError);
    });
  });

  describe('#against the server', () => {
    let server: SpawnedServer;
    before(async () => {
      server = await spawnServer({
        env: { PNS_SECRET: secret, PNS_PUBLISH_KEY: 'token-test-publish-key-0123456789' },
        args: ['--drain-seconds', '0'],
      });
    });
    after(async () => {
      if (server) assert.equal(await server.stop(), 0);
    });

    async function poll(sid: string, ch?: string): Promise<{ status: number; body: Record<string, unknown> }> {
      const search = new URLSearchParams({ sid, hold: '0' });
      if (ch !== undefined) search.set('ch', ch);
      const answer = await fetch(`${server.url}/pns/poll?${search}`, { signal: AbortSignal.timeout(10_000) });
      return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
    }

    it('accepts a token for its own channel and the topics it names', async () => {
      const token = await createToken({ secret, user: 'alice', topics: ['news'] });
      const answer = await poll(token, 'topic:news,user:alice');
      assert.equal(answer.status, 200);
      assert.equal(answer.body.c, 0);
    });

    it('refuses a topic the token does not name', async () => {
      const answer = await poll(await createToken({ secret, user: 'alice', topics: ['news'] }), 'topic:ops');
      assert.equal(answer.status, 403);
      assert.equal(answer.body.errorCode, 'CHANNEL_FORBIDDEN');
    });

    it('refuses a token signed with another secret', async () => {
      const answer = await poll(await createToken({ secret: 'another-secret-0123456789', user: 'alice' }));
      assert.equal(answer.status, 401);
      assert.equal(answer.body.errorCode, 'SESSION_INVALID');
    });
  });
});
