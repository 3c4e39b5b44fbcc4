import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PnsError } from '@pns/protocol';
import { SignJWT } from 'jose';
import { JwtSessionResolver } from '../src/auth/jwt-session-resolver.js';

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
  });
});
