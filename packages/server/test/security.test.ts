// The points of docs/security.md that no other suite proves: CORS never grants credentials, keys compare exactly,
// error bodies never echo a token or key, and what a client holding a valid token for user A cannot do.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeCursor } from '@pns/protocol';
import { BearerKeyVerifier } from '../src/auth/bearer-key.js';
import { startTestServer, type TestServer } from './support/harness.js';
import { type HttpResult, request } from './support/http-client.js';

type ErrorJson = { errorCode: string; message: string };
const adminKey = 'security-test-admin-key-0123456789';

describe('security', { timeout: 60_000 }, () => {
  describe('#BearerKeyVerifier', () => {
    it('accepts the exact key only: not a prefix, a longer key, another case, or padding', () => {
      const key = 'publish-key-0123456789abcdef';
      const verifier = new BearerKeyVerifier([key]);
      assert.ok(verifier.verify(`Bearer ${key}`));
      assert.ok(verifier.verify(`bearer ${key}`), 'the scheme is case-insensitive (RFC 7235)');
      const refused = [
        `Bearer ${key.slice(0, -1)}`,
        `Bearer ${key}0`,
        `Bearer ${key.toUpperCase()}`,
        `Bearer  ${key}`,
        `Bearer ${key} `,
        `Basic ${key}`,
        key,
        '',
        'Bearer ',
      ];
      for (const header of refused) assert.equal(verifier.verify(header), undefined, JSON.stringify(header));
    });
  });

  describe('#cors', () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ corsOrigins: '*' });
    });
    after(() => t.close());

    it('with *, allows any origin but never credentials, on polls, streams, preflights and errors', async () => {
      const sid = await t.token('cors-any');
      const answers: [string, HttpResult][] = [
        ['poll', await t.poll({ sid, hold: 0 }, { headers: { origin: 'https://any.example' } })],
        ['error', await t.poll({ sid: 'bad', hold: 0 }, { headers: { origin: 'https://any.example' } })],
        ['sse refusal', await request(`${t.url}/pns/sse?sid=bad`, { headers: { origin: 'https://any.example' } })],
        [
          'preflight',
          await request(`${t.url}/pns/poll`, {
            method: 'OPTIONS',
            headers: { origin: 'https://any.example', 'access-control-request-method': 'GET' },
          }),
        ],
      ];
      for (const [name, answer] of answers) {
        assert.equal(answer.headers['access-control-allow-origin'], '*', name);
        assert.equal(answer.headers['access-control-allow-credentials'], undefined, `${name}: never credentials`);
      }
    });
  });

  describe('#what a valid token for user A cannot do', () => {
    let t: TestServer;
    let sidA: string;
    before(async () => {
      t = await startTestServer({ adminKey, maxConnectionsPerUser: '4' });
      sidA = await t.token('alice', { topics: ['news'] });
    });
    after(() => t.close());

    const code = (answer: HttpResult): string => (answer.json as ErrorJson).errorCode;

    it('cannot listen to another user or an unlisted topic, even with a cursor naming them', async () => {
      assert.equal(code(await t.poll({ sid: sidA, ch: 'user:bob', hold: 0 })), 'CHANNEL_FORBIDDEN');
      assert.equal(code(await t.poll({ sid: sidA, ch: 'topic:payroll', hold: 0 })), 'CHANNEL_FORBIDDEN');
      // A cursor with positions for bob's channel grants nothing: A still hears only its own.
      const forged = encodeCursor(new Map([['user:bob', { epoch: 'x', offset: '0' }]]));
      const held = t.poll({ sid: sidA, cursor: forged, hold: 3 });
      await t.publish({ to: 'user:bob', type: 70, data: { secret: 'for bob' } });
      const answer = await held;
      assert.ok(
        answer.body.msg.every((message) => message.ch !== 'user:bob'),
        JSON.stringify(answer.body),
      );
    });

    it('cannot publish, revoke or read the dashboard with it', async () => {
      const asKey = { authorization: `Bearer ${sidA}`, 'content-type': 'application/json' };
      const published = await request(`${t.url}/pns/publish`, {
        method: 'POST',
        headers: asKey,
        body: JSON.stringify({ to: 'user:bob', type: 70 }),
      });
      assert.equal(code(published), 'PUBLISH_UNAUTHORIZED');
      const revoked = await request(`${t.url}/pns/revoke`, { method: 'POST', headers: asKey, body: JSON.stringify({ user: 'bob' }) });
      assert.equal(code(revoked), 'PUBLISH_UNAUTHORIZED');
      assert.equal(code(await request(`${t.url}/pns/admin/stats`, { headers: { authorization: `Bearer ${sidA}` } })), 'ADMIN_UNAUTHORIZED');
    });

    it('holds at most the per-user cap, however many sessions the application gave it', async () => {
      const sessions = await Promise.all([1, 2, 3, 4, 5].map((n) => t.token('alice', { ttl: 3600 - n })));
      const held = sessions.slice(0, 4).map((sid) => t.poll({ sid, hold: 5 }));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(code(await t.poll({ sid: sessions[4] as string, hold: 0 })), 'TOO_MANY_CONNECTIONS');
      await t.publish({ to: 'user:alice', type: 70 });
      await Promise.all(held);
    });
  });

  describe('#long tokens', () => {
    it('refuses a token over 8192 characters with SESSION_INVALID', async () => {
      const t = await startTestServer();
      try {
        const long = `${await t.token('long')}${'A'.repeat(9000)}`;
        const answer = await t.poll({ sid: long, hold: 0 });
        assert.equal(answer.status, 401);
        assert.equal((answer.json as ErrorJson).errorCode, 'SESSION_INVALID');
      } finally {
        await t.close();
      }
    });
  });

  describe('#no secrets in answers', () => {
    it('never echoes a session token, a publish key or the secret in an error body', async () => {
      const t = await startTestServer();
      try {
        const sid = await t.token('quiet');
        const answers = [
          await t.poll({ sid, cursor: 'v1.not-a-cursor', hold: 0 }),
          await t.poll({ sid: `${sid}x`, hold: 0 }),
          await t.publish({ to: 'user:quiet', type: 70 }, { key: `${t.config.publishKey}x` }),
          await t.publish('{"to":', {}),
        ];
        for (const answer of answers) {
          assert.ok(answer.status >= 400, answer.text);
          for (const secret of [sid, sid.slice(0, 60), t.config.publishKey, String(t.config.secret)]) {
            assert.ok(!answer.text.includes(secret), `${answer.text} contains a secret`);
          }
        }
      } finally {
        await t.close();
      }
    });
  });
});
