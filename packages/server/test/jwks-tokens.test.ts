import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createToken } from '@pns/publisher';
import { exportSPKI, SignJWT } from 'jose';
import { startTestServer, type TestServer, testSecret, waitFor } from './support/harness.js';
import { jwksFolder, keySet, type SigningKey, signingKey, signToken, unsecuredToken } from './support/jwks.js';

type ErrorJson = { errorCode: string };

/** A poll's outcome at once (hold 0): `ok` for a 200, else the status and the catalog code. */
async function outcome(t: TestServer, sid: string): Promise<string> {
  const answer = await t.poll({ sid, hold: 0 });
  return answer.status === 200 ? 'ok' : `${answer.status} ${(answer.json as ErrorJson).errorCode}`;
}

/** A poll with `sid` is held, and answered with the message then published to `user`. */
async function receives(t: TestServer, sid: string, user: string): Promise<void> {
  const first = await t.poll({ sid, hold: 0 });
  assert.equal(first.status, 200, first.text);
  const held = t.poll({ sid, cursor: first.body.cursor, hold: 10 });
  await waitFor(() => t.server.hub.stats().subscriptions > 0, 5000, 'the poll to be held');
  const published = await t.publish({ to: `user:${user}`, type: 70, data: { subject: 'signed' } });
  assert.equal(published.status, 200, published.text);
  const answer = await held;
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.body.c, 1);
  assert.equal(answer.body.msg[0]?.ch, `user:${user}`);
  assert.deepEqual(answer.body.msg[0]?.data, { subject: 'signed' });
}

/** A key set served over real HTTP on a loopback port, which can stop listening and come back on the same port. */
class JwksServer {
  /** What a fetch gets: a key set as JSON, or a bare status code. */
  answer: unknown = { keys: [] };
  fetches = 0;
  port = 0;
  private readonly server: Server = createServer((_request, response) => {
    this.fetches++;
    if (typeof this.answer === 'number') response.writeHead(this.answer).end();
    else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.answer));
  });

  get url(): string {
    return `http://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }

  async up(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async down(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('RS256 and ES256 session tokens (PNS_JWKS)', { timeout: 60_000 }, () => {
  const folder = jwksFolder();
  let rsa: SigningKey;
  let ec: SigningKey;
  let rs512: SigningKey;
  let file: string;
  before(async () => {
    [rsa, ec, rs512] = await Promise.all([signingKey('RS256', 'rsa-1'), signingKey('ES256', 'ec-1'), signingKey('RS512', 'rsa-512')]);
    // The RS512 key is listed without `alg`, so only pns's own pinning refuses its tokens.
    file = folder.write('jwks.json', { keys: [rsa.jwk, ec.jwk, { ...rs512.jwk, alg: undefined }] });
  });
  after(() => folder.remove());

  describe('#from a file, next to PNS_SECRET', () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ jwks: file });
    });
    after(() => t.close());

    it('delivers a published message to a poll with an RS256 token, and to one with an ES256 token', async () => {
      await receives(t, await signToken(rsa, { sub: 'rsa-user' }), 'rsa-user');
      await receives(t, await signToken(ec, { sub: 'ec-user' }), 'ec-user');
    });

    it('keeps accepting HS256 tokens signed with PNS_SECRET', async () => {
      await receives(t, await t.token('hs-user'), 'hs-user');
    });

    it('refuses every other token with SESSION_INVALID, and an expired one with SESSION_EXPIRED', async () => {
      const now = Math.floor(Date.now() / 1000);
      const pem = await exportSPKI(rsa.publicKey);
      const [header = '', , signature = ''] = (await signToken(rsa)).split('.');
      const otherPayload = Buffer.from(JSON.stringify({ sub: 'someone-else', exp: now + 600 })).toString('base64url');
      const cases: [string, string | Promise<string>, string][] = [
        ['alg none', unsecuredToken({ sub: '42', exp: now + 600 }), '401 SESSION_INVALID'],
        [
          'HS256 signed with the RSA public key as HMAC secret',
          new SignJWT({ sub: '42', exp: now + 600 }).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(new TextEncoder().encode(pem)),
          '401 SESSION_INVALID',
        ],
        ['RS512, though its key is listed', signToken(rs512), '401 SESSION_INVALID'],
        ['a kid not in the set', signToken(rsa, {}, { kid: 'rsa-2' }), '401 SESSION_INVALID'],
        ['a wrong signature', signingKey('RS256', 'rsa-1').then((impostor) => signToken(impostor)), '401 SESSION_INVALID'],
        ['a payload changed after signing', `${header}.${otherPayload}.${signature}`, '401 SESSION_INVALID'],
        ['no exp', signToken(ec, { exp: undefined }), '401 SESSION_INVALID'],
        ['no sub', signToken(rsa, { sub: undefined }), '401 SESSION_INVALID'],
        ['nbf a minute ahead', signToken(ec, { nbf: now + 60 }), '401 SESSION_INVALID'],
        ['nbf within the 30 s tolerance', signToken(ec, { nbf: now + 10 }), 'ok'],
        ['expired a minute ago', signToken(rsa, { exp: now - 60 }), '401 SESSION_EXPIRED'],
        ['expired, ES256', signToken(ec, { exp: now - 60 }), '401 SESSION_EXPIRED'],
      ];
      for (const [name, token, expected] of cases) assert.equal(await outcome(t, await token), expected, name);
    });
  });

  describe('#with no PNS_SECRET', () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ jwks: file, secret: undefined });
    });
    after(() => t.close());

    it('runs outside dev mode and verifies RS256 tokens only against the JWKS', async () => {
      assert.equal(t.config.devMode, false);
      assert.equal(t.config.demo, false);
      await receives(t, await signToken(rsa, { sub: 'only-rsa' }), 'only-rsa');
      assert.equal(await outcome(t, await createToken({ secret: testSecret, user: '42' })), '401 SESSION_INVALID');
    });
  });

  describe('#issuer and audience', () => {
    let t: TestServer;
    const good = { iss: 'https://id.example', aud: 'pns' };
    before(async () => {
      t = await startTestServer({ jwks: file, jwtIssuer: good.iss, jwtAudience: good.aud });
    });
    after(() => t.close());

    it('accepts tokens of either kind that name them', async () => {
      await receives(t, await signToken(rsa, { ...good, sub: 'audited' }), 'audited');
      assert.equal(await outcome(t, await signToken(ec, { ...good, aud: ['app', 'pns'] })), 'ok');
      assert.equal(await outcome(t, await t.token('hs-audited')), 'ok', 'HS256 with iss and aud');
    });

    it('refuses a token of either kind with another or no issuer or audience', async () => {
      const cases: [string, Promise<string>][] = [
        ['another issuer', signToken(rsa, { ...good, iss: 'https://evil.example' })],
        ['another audience', signToken(ec, { ...good, aud: 'app' })],
        ['no audience', signToken(rsa, { iss: good.iss })],
        ['no issuer', signToken(rsa, { aud: good.aud })],
        ['HS256 without either', createToken({ secret: testSecret, user: '42' })],
        ['HS256 with another issuer', createToken({ secret: testSecret, user: '42', issuer: 'x', audience: good.aud })],
      ];
      for (const [name, token] of cases) assert.equal(await outcome(t, await token), '401 SESSION_INVALID', name);
    });
  });

  describe('#from a URL', () => {
    const jwks = new JwksServer();
    let t: TestServer;
    before(async () => {
      // The port is taken, then freed: pns starts while nothing answers there.
      await jwks.up();
      await jwks.down();
      t = await startTestServer({ jwks: jwks.url, secret: undefined });
    });
    after(async () => {
      await t.close();
      await jwks.down().catch(() => undefined);
    });

    it('answers 503 BACKEND_UNAVAILABLE while the JWKS is down or broken, and 200 once it is back', async () => {
      const sid = await signToken(rsa, { sub: 'remote' });
      const down = await t.poll({ sid, hold: 0 });
      assert.equal(`${down.status} ${(down.json as ErrorJson).errorCode}`, '503 BACKEND_UNAVAILABLE');
      assert.equal(down.headers['retry-after'], '5');
      await jwks.up();
      jwks.answer = 500;
      assert.equal(await outcome(t, sid), '503 BACKEND_UNAVAILABLE');
      jwks.answer = { keys: ['not a key'] };
      assert.equal(await outcome(t, sid), '503 BACKEND_UNAVAILABLE');
      jwks.answer = keySet(rsa, ec);
      await receives(t, sid, 'remote');
    });

    it('keeps the keys it fetched, refuses a kid not among them, and goes on without the JWKS while it has them', async () => {
      const fetches = jwks.fetches;
      assert.equal(await outcome(t, await signToken(ec, { sub: 'another' })), 'ok');
      assert.equal(await outcome(t, await signToken(rsa, {}, { kid: 'rsa-2' })), '401 SESSION_INVALID');
      assert.equal(jwks.fetches, fetches, 'served from the keys fetched a moment ago');
      await jwks.down();
      assert.equal(await outcome(t, await signToken(rsa, { sub: 'remote' })), 'ok', 'verified before');
      assert.equal(await outcome(t, await signToken(rsa, { sub: 'new-while-down' })), 'ok', 'verified with the keys fetched before');
    });
  });
});
