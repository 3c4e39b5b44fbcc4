// POST /pns/revoke: a logout stops the mail. The user's (or the one session's) live connections end at once
// with SESSION_EXPIRED on every transport, its tokens are refused from then on, and no one else is touched.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { delay, startTestServer, type TestServer, waitFor } from './support/harness.js';
import { type HttpResult, request } from './support/http-client.js';
import { openSubscriber, transports } from './support/transport-subscriber.js';

type ErrorJson = { errorCode: string };

describe('POST /pns/revoke', { timeout: 60_000 }, () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const revoke = (body: unknown, key = t.config.publishKey): Promise<HttpResult> =>
    request(`${t.url}/pns/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  /** A token issued `secondsAgo` seconds ago (iat), valid for an hour from then. */
  const tokenIssued = (user: string, secondsAgo: number): Promise<string> => {
    const iat = Math.floor(Date.now() / 1000) - secondsAgo;
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(new TextEncoder().encode(t.config.secret));
  };

  describe('#user', () => {
    it('ends the user’s connections on every transport with SESSION_EXPIRED, and only theirs', async () => {
      const sid = await t.token('leaving');
      const other = await t.token('staying');
      const subscribers = transports.map((transport) => openSubscriber(transport, t.url, { sid }));
      const bystanders = transports.map((transport) => openSubscriber(transport, t.url, { sid: other }));
      await Promise.all([...subscribers, ...bystanders].map((subscriber) => subscriber.ready()));
      try {
        const answer = await revoke({ user: 'leaving' });
        assert.equal(answer.status, 200, answer.text);
        assert.deepEqual(answer.json, { revoked: true });
        for (const subscriber of subscribers) {
          const ending = await subscriber.ended(2000);
          const code = ending.errorCode ?? ending.sseEnd?.errorCode ?? ending.wsReason;
          assert.equal(code, 'SESSION_EXPIRED', `${subscriber.transport}: ${JSON.stringify(ending)}`);
        }
        await t.publish({ to: 'user:staying', type: 70, id: 'still-here' });
        for (const bystander of bystanders) await bystander.waitForId('still-here');
      } finally {
        await Promise.all([...subscribers, ...bystanders].map((subscriber) => subscriber.close()));
      }
    });

    it('refuses the tokens issued before, accepts one issued after', async () => {
      const before = await tokenIssued('relogin', 5);
      assert.equal((await t.poll({ sid: before, hold: 0 })).status, 200);
      assert.equal((await revoke({ user: 'relogin' })).status, 200);
      const refused = await t.poll({ sid: before, hold: 0 });
      assert.equal(refused.status, 401);
      assert.equal((refused.json as ErrorJson).errorCode, 'SESSION_EXPIRED');
      // Tokens carry whole seconds: one issued in the second of the revoke is refused too.
      await delay(1100);
      assert.equal((await t.poll({ sid: await t.token('relogin'), hold: 0 })).status, 200);
    });
  });

  describe('#sid', () => {
    it('ends and refuses that session only; the user’s other sessions go on', async () => {
      // The streams of the tests before may still be closing.
      await waitFor(() => t.server.hub.stats().subscriptions === 0, 5000, 'no subscription left');
      // Two tokens of one user (different lifetimes make them differ).
      const phone = await t.token('two-devices');
      const laptop = await t.token('two-devices', { ttl: 3599 });
      const held = t.poll({ sid: phone, hold: 10 });
      const kept = t.poll({ sid: laptop, hold: 10 });
      await waitFor(() => t.server.hub.stats().subscriptions === 2, 5000, 'two held polls');
      const answer = await revoke({ sid: phone });
      assert.deepEqual(answer.json, { revoked: true });
      const ended = await held;
      assert.equal(ended.status, 401);
      assert.equal((ended.json as ErrorJson).errorCode, 'SESSION_EXPIRED');
      assert.equal((await t.poll({ sid: phone, hold: 0 })).status, 401);
      // Other spellings of the same token verify alike: each is refused too.
      const [head, body, signature] = phone.split('.') as [string, string, string];
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(signature.at(-1) as string);
      // The last character of a 32-byte signature carries 2 bits that decoding drops.
      const respelled = `${head}.${body}.${signature.slice(0, -1)}${alphabet[last ^ 1]}`;
      assert.notEqual(respelled, phone);
      for (const variant of [respelled, `${phone}=`, `${phone} `]) {
        const refused = await t.poll({ sid: variant, hold: 0 });
        assert.equal(refused.status, 401, variant.slice(-8));
      }
      await t.publish({ to: 'user:two-devices', type: 70 });
      assert.equal((await kept).body.c, 1, 'the other session still gets the mail');
    });
  });

  describe('#refusals', () => {
    it('answers catalog errors for a bad key and a bad body, and nothing for an expired token', async () => {
      const expired = await tokenIssued('old', 7200);
      const cases: [string, Promise<HttpResult>, number, string | undefined][] = [
        ['no key', revoke({ user: 'x' }, 'wrong-key-0123456789abcdef'), 401, 'PUBLISH_UNAUTHORIZED'],
        ['empty body', revoke({}), 400, 'BAD_REQUEST'],
        ['both', revoke({ user: 'x', sid: 'y' }), 400, 'BAD_REQUEST'],
        ['bad user', revoke({ user: 'not a user' }), 400, 'BAD_REQUEST'],
        ['garbage sid', revoke({ sid: 'not-a-token' }), 400, 'BAD_REQUEST'],
        ['not JSON', revoke('user=x'), 400, 'BAD_REQUEST'],
        ['expired sid', revoke({ sid: expired }), 200, undefined],
      ];
      for (const [name, pending, status, code] of cases) {
        const answer = await pending;
        assert.equal(answer.status, status, `${name}: ${answer.text}`);
        if (code) assert.equal((answer.json as ErrorJson).errorCode, code, name);
      }
      const form = await request(`${t.url}/pns/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.config.publishKey}`, 'content-type': 'text/plain' },
        body: 'x',
      });
      assert.equal((form.json as ErrorJson).errorCode, 'UNSUPPORTED_MEDIA_TYPE');
    });
  });
});
