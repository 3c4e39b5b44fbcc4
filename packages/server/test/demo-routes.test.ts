import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Mail, PnsMessage } from '@pns/protocol';
import { SignJWT } from 'jose';
import { ConfigError, loadConfig } from '../src/config/load-config.js';
import { startTestServer, type TestServer, waitFor, withTestServer } from './support/harness.js';
import { type HttpResult, request } from './support/http-client.js';

type ErrorJson = { errorCode: string; message: string };

describe('webmail demo routes', { timeout: 60_000 }, () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ demo: 'true' });
  });
  after(() => t.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult> =>
    request(`${t.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const signIn = async (user: string): Promise<string> => {
    const answer = await post('/demo/api/session', { user });
    assert.equal(answer.status, 200, answer.text);
    return (answer.json as { sid: string }).sid;
  };
  const bearer = (sid: string): Record<string, string> => ({ authorization: `Bearer ${sid}` });
  const send = (sid: string, mail: unknown): Promise<HttpResult> => post('/demo/api/mail', mail, bearer(sid));
  const inbox = async (sid: string): Promise<{ mails: Mail[]; cursor: string }> => {
    const answer = await request(`${t.url}/demo/api/inbox`, { headers: bearer(sid) });
    assert.equal(answer.status, 200, answer.text);
    return answer.json as { mails: Mail[]; cursor: string };
  };

  describe('#pages', () => {
    it('serves the webmail at / with a policy that allows this origin only', async () => {
      const page = await request(`${t.url}/`);
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
      assert.match(page.text, /\/demo\/assets\/webmail\.js/);
      const script = await request(`${t.url}/demo/assets/webmail.js`);
      assert.equal(script.status, 200);
      assert.match(String(script.headers['content-type']), /^text\/javascript/);
    });

    it('serves only the bundled files: anything else under the assets path is NOT_FOUND', async () => {
      for (const path of [
        '/demo/assets/webmail.html',
        '/demo/assets/..%2Fpackage.json',
        '/demo/assets/pns.mjs',
        '/demo/assets/',
        '/demo/assets/dashboard.js',
      ]) {
        const answer = await request(`${t.url}${path}`);
        assert.equal(answer.status, 404, path);
        assert.equal((answer.json as ErrorJson).errorCode, 'NOT_FOUND', path);
      }
    });
  });

  describe('#session', () => {
    it('lists the demo users and signs a session a poll accepts for that user only', async () => {
      const users = (await request(`${t.url}/demo/api/users`)).json as { users: { id: string }[] };
      assert.deepEqual(
        users.users.map((user) => user.id),
        ['alice', 'bob', 'carol', 'dave'],
      );
      const answer = await post('/demo/api/session', { user: 'alice' });
      const body = answer.json as { sid: string; user: { id: string }; expiresAt: number };
      assert.equal(body.user.id, 'alice');
      assert.ok(body.expiresAt > Date.now());
      assert.ok(!answer.text.includes(t.config.publishKey), 'the publish key never reaches a page');
      const own = await t.poll({ sid: body.sid, hold: 0 });
      assert.equal(own.status, 200);
      const other = await t.poll({ sid: body.sid, hold: 0, ch: 'user:demo-bob' });
      assert.equal((other.json as ErrorJson).errorCode, 'CHANNEL_FORBIDDEN');
    });
  });

  describe('#mail', () => {
    it('pushes a mail to its recipient as type 70, and to no one else', async () => {
      const [alice, bob, carol] = [await signIn('alice'), await signIn('bob'), await signIn('carol')];
      const bobPoll = t.poll({ sid: bob, hold: 10, comeFrom: 'mail-test' });
      const carolPoll = t.poll({ sid: carol, hold: 2, comeFrom: 'mail-test' });
      await waitFor(() => t.server.hub.stats().subscriptions === 2, 5000, 'two held polls');
      const sent = await send(alice, { to: 'bob', subject: 'Lunch?', body: 'At noon.' });
      assert.equal(sent.status, 200, sent.text);
      const { id } = sent.json as { id: string };
      const delivered = (await bobPoll).body;
      assert.equal(delivered.c, 1);
      const message = delivered.msg[0] as PnsMessage<Omit<Mail, 'id'>>;
      assert.equal(message.id, id);
      assert.equal(message.type, 70);
      assert.equal(message.ch, 'user:demo-bob');
      assert.equal(message.data.from.id, 'alice');
      assert.equal(message.data.to, 'bob');
      assert.equal(message.data.subject, 'Lunch?');
      assert.equal(message.data.body, 'At noon.');
      assert.equal((await carolPoll).body.c, 0, 'carol gets nothing');
    });

    it('lists the inbox newest first with a cursor from which the push client misses and repeats nothing', async () => {
      const [alice, dave] = [await signIn('alice'), await signIn('dave')];
      for (const subject of ['first', 'second']) assert.equal((await send(alice, { to: 'dave', subject, body: '' })).status, 200);
      const box = await inbox(dave);
      assert.deepEqual(
        box.mails.map((mail) => mail.subject),
        ['second', 'first'],
      );
      assert.equal(box.mails[0]?.from.id, 'alice');
      assert.equal((await t.poll({ sid: dave, cursor: box.cursor, hold: 0 })).body.c, 0, 'nothing after the inbox yet');
      const third = (await send(alice, { to: 'dave', subject: 'third', body: '' })).json as { id: string };
      const next = (await t.poll({ sid: dave, cursor: box.cursor, hold: 5 })).body;
      assert.deepEqual(
        next.msg.map((message) => message.id),
        [third.id],
      );
    });

    it('lists only what is a mail: a type-70 message of another shape, from another publisher, is left out', async () => {
      const [alice, bob] = [await signIn('alice'), await signIn('bob')];
      assert.equal((await send(alice, { to: 'bob', subject: 'real', body: '' })).status, 200);
      for (const data of ['x', {}, { from: 'alice', subject: 1 }, null]) {
        assert.equal((await t.publish({ to: 'user:demo-bob', type: 70, data })).status, 200);
      }
      const box = await inbox(bob);
      assert.ok(box.mails.length > 0);
      assert.ok(
        box.mails.every((mail) => typeof mail.from.name === 'string' && typeof mail.subject === 'string'),
        JSON.stringify(box.mails),
      );
      assert.equal(box.mails[0]?.subject, 'real');
    });

    it('refuses bad requests with catalog errors', async () => {
      const alice = await signIn('alice');
      // Past the server's 30 s clock tolerance.
      const expired = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('demo-alice')
        .setIssuedAt(Math.floor(Date.now() / 1000) - 3700)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 100)
        .sign(new TextEncoder().encode(t.config.secret));
      const stranger = await t.token('someone');
      const cases: [string, Promise<HttpResult>, number, string][] = [
        ['unknown user', post('/demo/api/session', { user: 'mallory' }), 400, 'BAD_REQUEST'],
        ['extra field', post('/demo/api/session', { user: 'alice', admin: true }), 400, 'BAD_REQUEST'],
        [
          'not JSON',
          post('/demo/api/session', 'user=alice', { 'content-type': 'application/x-www-form-urlencoded' }),
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        ],
        ['broken JSON', post('/demo/api/session', '{"user":'), 400, 'BAD_REQUEST'],
        ['inbox without a session', request(`${t.url}/demo/api/inbox`), 401, 'SESSION_INVALID'],
        ['inbox of a non-demo user', request(`${t.url}/demo/api/inbox`, { headers: bearer(stranger) }), 401, 'SESSION_INVALID'],
        ['mail without a session', post('/demo/api/mail', { to: 'bob', subject: 's', body: '' }), 401, 'SESSION_INVALID'],
        ['empty subject', send(alice, { to: 'bob', subject: '  ', body: '' }), 400, 'BAD_REQUEST'],
        ['long subject', send(alice, { to: 'bob', subject: 'x'.repeat(201), body: '' }), 400, 'BAD_REQUEST'],
        ['long body', send(alice, { to: 'bob', subject: 's', body: 'x'.repeat(5001) }), 400, 'BAD_REQUEST'],
        ['unknown recipient', send(alice, { to: 'mallory', subject: 's', body: '' }), 400, 'BAD_REQUEST'],
        ['recipient not a string', send(alice, { to: ['bob'], subject: 's', body: '' }), 400, 'BAD_REQUEST'],
        ['expired session', send(expired, { to: 'bob', subject: 's', body: '' }), 401, 'SESSION_EXPIRED'],
      ];
      for (const [name, answer, status, code] of cases) {
        const result = await answer;
        assert.equal(result.status, status, `${name}: ${result.text}`);
        assert.equal((result.json as ErrorJson).errorCode, code, name);
      }
    });
  });
});

describe('webmail demo switch', { timeout: 30_000 }, () => {
  it('is off outside dev mode unless PNS_DEMO=true', async () => {
    await withTestServer({}, async (t) => {
      for (const path of ['/', '/demo/api/users', '/demo/assets/webmail.js']) {
        const answer = await request(`${t.url}${path}`);
        assert.equal(answer.status, 404, path);
        assert.equal((answer.json as ErrorJson).errorCode, 'NOT_FOUND');
      }
    });
  });

  it('is on in dev mode', async () => {
    await withTestServer({ secret: undefined }, async (t) => {
      assert.equal(t.config.devMode, true);
      assert.equal((await request(`${t.url}/`)).status, 200);
    });
  });

  it('cannot run with sessions kept in Redis, whose store would not know its tokens', () => {
    assert.throws(
      () => loadConfig({ demo: 'true', redisUrl: 'redis://127.0.0.1:6379', sessionRedisKey: 'session:{sid}', workers: '1' }),
      (error: unknown) => error instanceof ConfigError && error.problems.some((problem) => problem.startsWith('PNS_DEMO')),
    );
    assert.equal(loadConfig({ redisUrl: 'redis://127.0.0.1:6379', sessionRedisKey: 'session:{sid}', workers: '1' }).demo, false);
  });
});
