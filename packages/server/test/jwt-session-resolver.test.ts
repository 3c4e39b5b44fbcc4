import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, it } from 'node:test';
import { PnsError } from '@pns/protocol';
import { exportSPKI, SignJWT } from 'jose';
import { jwksKeys } from '../src/auth/jwks-keys.js';
import { JwtSessionResolver } from '../src/auth/jwt-session-resolver.js';
import { BrokerUnavailableError } from '../src/broker/broker.js';
import { keySet, type SigningKey, signingKey, signToken, unsecuredToken } from './support/jwks.js';

const secret = 'resolver-test-secret-0123456789';

function sign(claims: Record<string, unknown>, exp: number, signingSecret = secret): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('42')
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(signingSecret));
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PnsError);
    return error.code;
  }
  return 'resolved';
}

describe('JwtSessionResolver', { timeout: 10_000 }, () => {
  describe('#resolve', () => {
    it('gives the user, topics, and the moment the token stops being accepted', async () => {
      const exp = Math.floor(Date.now() / 1000) + 600;
      const session = await new JwtSessionResolver({ secrets: [secret] }).resolve(await sign({ topics: ['news'] }, exp));
      assert.equal(session.userId, '42');
      assert.deepEqual([...session.topics], ['news']);
      assert.equal(session.expiresAt, (exp + 30) * 1000);
    });

    it('remembers a verified token, and refuses it from the end of its tolerance on', async () => {
      let now = Date.now();
      const resolver = new JwtSessionResolver({ secrets: [secret], now: () => now });
      const exp = Math.floor(now / 1000) + 60;
      const token = await sign({}, exp);
      const first = await resolver.resolve(token);
      assert.equal(await resolver.resolve(token), first, 'the second poll is served from the cache');
      now = (exp + 29) * 1000;
      assert.equal(await resolver.resolve(token), first);
      now = (exp + 31) * 1000;
      assert.equal(await codeOf(resolver.resolve(token)), 'SESSION_EXPIRED');
    });

    it('never remembers a token that failed verification', async () => {
      const resolver = new JwtSessionResolver({ secrets: [secret] });
      const forged = `${(await sign({}, Math.floor(Date.now() / 1000) + 60)).slice(0, -2)}xx`;
      assert.equal(await codeOf(resolver.resolve(forged)), 'SESSION_INVALID');
      assert.equal(await codeOf(resolver.resolve(forged)), 'SESSION_INVALID');
    });

    it('keeps at most cacheSize tokens, dropping the least recently used', async () => {
      const resolver = new JwtSessionResolver({ secrets: [secret], cacheSize: 2 });
      const exp = Math.floor(Date.now() / 1000) + 60;
      const tokens = await Promise.all([sign({ n: 1 }, exp), sign({ n: 2 }, exp), sign({ n: 3 }, exp)]);
      const sessions = [];
      for (const token of tokens) sessions.push(await resolver.resolve(token));
      assert.notEqual(await resolver.resolve(tokens[0] as string), sessions[0], 'the oldest was dropped and verified again');
      assert.equal(await resolver.resolve(tokens[2] as string), sessions[2]);
    });

    it('accepts tokens signed with any of its secrets, so a secret can be replaced without logging anyone out', async () => {
      const next = 'resolver-test-next-secret-0123456789';
      const resolver = new JwtSessionResolver({ secrets: [next, secret] });
      const future = Math.floor(Date.now() / 1000) + 600;
      const past = Math.floor(Date.now() / 1000) - 600;
      assert.equal((await resolver.resolve(await sign({}, future, next))).userId, '42', 'the new secret');
      assert.equal((await resolver.resolve(await sign({}, future))).userId, '42', 'the old secret, still listed');
      assert.equal(await codeOf(resolver.resolve(await sign({}, past))), 'SESSION_EXPIRED', 'expired under the old secret');
      assert.equal(await codeOf(resolver.resolve(await sign({}, future, 'resolver-test-other-secret-0123'))), 'SESSION_INVALID');
      const retired = new JwtSessionResolver({ secrets: [next] });
      assert.equal(await codeOf(retired.resolve(await sign({}, future))), 'SESSION_INVALID', 'a secret taken off the list is refused');
    });

    describe('with a JWKS', () => {
      let rsa: SigningKey;
      let ec: SigningKey;
      let resolver: JwtSessionResolver;
      before(async () => {
        [rsa, ec] = await Promise.all([signingKey('RS256', 'rsa-1'), signingKey('ES256', 'ec-1')]);
        resolver = new JwtSessionResolver({ secrets: [secret], jwks: jwksKeys({ path: 'test', keys: keySet(rsa, ec) }) });
      });

      it('verifies RS256 and ES256 tokens against it, and remembers them as it does HS256 ones', async () => {
        const token = await signToken(rsa, { topics: ['news'] });
        const session = await resolver.resolve(token);
        assert.equal(session.userId, '42');
        assert.deepEqual([...session.topics], ['news']);
        assert.equal(await resolver.resolve(token), session, 'served from the cache');
        assert.equal((await resolver.resolve(await signToken(ec))).userId, '42');
        assert.equal((await resolver.resolve(await sign({}, Math.floor(Date.now() / 1000) + 60))).userId, '42', 'HS256 still works');
      });

      it('pins each algorithm to its kind of key', async () => {
        const pem = await exportSPKI(rsa.publicKey);
        const confused = await new SignJWT({ sub: '42', exp: Math.floor(Date.now() / 1000) + 60 })
          .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
          .sign(new TextEncoder().encode(pem));
        assert.equal(await codeOf(resolver.resolve(confused)), 'SESSION_INVALID', 'HS256 with the public key as secret');
        assert.equal(await codeOf(resolver.resolve(unsecuredToken({ sub: '42', exp: 2e9 }))), 'SESSION_INVALID', 'alg none');
        const rs512 = await signingKey('RS512', 'rsa-1');
        const withRs512 = new JwtSessionResolver({ secrets: [], jwks: jwksKeys({ path: 'test', keys: keySet(rs512) }) });
        assert.equal(await codeOf(withRs512.resolve(await signToken(rs512))), 'SESSION_INVALID', 'RS512, though its key is listed');
        const hsOnly = new JwtSessionResolver({ secrets: [secret] });
        assert.equal(await codeOf(hsOnly.resolve(await signToken(rsa))), 'SESSION_INVALID', 'RS256 without a JWKS');
        const jwksOnly = new JwtSessionResolver({ secrets: [], jwks: jwksKeys({ path: 'test', keys: keySet(rsa) }) });
        assert.equal(
          await codeOf(jwksOnly.resolve(await sign({}, Math.floor(Date.now() / 1000) + 60))),
          'SESSION_INVALID',
          'HS256 with no secret',
        );
      });

      it('refuses an unknown kid, a wrong signature, a missing exp or sub and a future nbf, and calls only expiry expired', async () => {
        const now = Math.floor(Date.now() / 1000);
        const impostor = await signingKey('RS256', 'rsa-1');
        const cases: [string, Promise<string>, string][] = [
          ['unknown kid', signToken(rsa, {}, { kid: 'rsa-2' }), 'SESSION_INVALID'],
          ['wrong signature', signToken(impostor), 'SESSION_INVALID'],
          ['kid of a key of the other algorithm', signToken(rsa, {}, { kid: ec.kid }), 'SESSION_INVALID'],
          ['no exp', signToken(rsa, { exp: undefined }), 'SESSION_INVALID'],
          ['no sub', signToken(ec, { sub: undefined }), 'SESSION_INVALID'],
          ['nbf beyond the tolerance', signToken(rsa, { nbf: now + 60 }), 'SESSION_INVALID'],
          ['nbf within the tolerance', signToken(rsa, { nbf: now + 10 }), 'resolved'],
          ['expired', signToken(ec, { exp: now - 60 }), 'SESSION_EXPIRED'],
        ];
        for (const [name, token, code] of cases) assert.equal(await codeOf(resolver.resolve(await token)), code, name);
      });

      it('tries every listed key that fits a token without kid, so keys can be rotated', async () => {
        const next = await signingKey('RS256', 'unused');
        const bare = (key: SigningKey) => ({ ...key.jwk, kid: undefined });
        const rotating = new JwtSessionResolver({ secrets: [], jwks: jwksKeys({ path: 'test', keys: { keys: [bare(rsa), bare(next)] } }) });
        assert.equal((await rotating.resolve(await signToken(next, {}, { kid: undefined }))).userId, '42');
        assert.equal((await rotating.resolve(await signToken(rsa, {}, { kid: undefined }))).userId, '42');
      });

      it('checks iss and aud, when asked to, for every kind of token', async () => {
        const strict = new JwtSessionResolver({
          secrets: [secret],
          jwks: jwksKeys({ path: 'test', keys: keySet(rsa) }),
          issuer: 'https://id.example',
          audience: 'pns',
        });
        const exp = Math.floor(Date.now() / 1000) + 60;
        const good = { iss: 'https://id.example', aud: 'pns' };
        assert.equal(await codeOf(strict.resolve(await signToken(rsa, good))), 'resolved');
        assert.equal(await codeOf(strict.resolve(await signToken(rsa, { ...good, aud: ['other', 'pns'] }))), 'resolved');
        assert.equal(await codeOf(strict.resolve(await sign(good, exp))), 'resolved', 'HS256');
        assert.equal(await codeOf(strict.resolve(await signToken(rsa, { ...good, iss: 'https://evil.example' }))), 'SESSION_INVALID');
        assert.equal(await codeOf(strict.resolve(await signToken(rsa, { ...good, aud: 'other' }))), 'SESSION_INVALID');
        assert.equal(await codeOf(strict.resolve(await signToken(rsa, { iss: good.iss }))), 'SESSION_INVALID', 'no aud');
        assert.equal(await codeOf(strict.resolve(await sign({ aud: 'pns' }, exp))), 'SESSION_INVALID', 'HS256 without iss');
      });

      it('fails as an unavailable backend, not an invalid token, when the JWKS cannot be fetched', async () => {
        const closed = createServer();
        await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
        const { port } = closed.address() as AddressInfo;
        await new Promise((resolve) => closed.close(resolve));
        const remote = new JwtSessionResolver({ secrets: [], jwks: jwksKeys({ url: new URL(`http://127.0.0.1:${port}/jwks.json`) }) });
        await assert.rejects(remote.resolve(await signToken(rsa)), BrokerUnavailableError);
        assert.equal(
          await codeOf(remote.resolve(await sign({}, Math.floor(Date.now() / 1000) + 60))),
          'SESSION_INVALID',
          'HS256 is never looked up in the JWKS',
        );
      });
    });
  });
});
