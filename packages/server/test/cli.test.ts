import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PollResponse } from '@pns/protocol';
import { createToken } from '@pns/publisher';
import { delay, pollUrl, startTestServer, type TestServer, testPublishKey, testSecret } from './support/harness.js';
import { request } from './support/http-client.js';
import { cleanEnv, cliTimeoutMs, type Exit, killStarted, listeningUrl, spawnServer, startCli, stopCli } from './support/spawn-server.js';

const jwtPattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Runs the CLI to its end (killing it after a timeout, which fails the test). */
async function run(args: string[], env?: NodeJS.ProcessEnv): Promise<Exit> {
  const running = startCli(args, env);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), cliTimeoutMs);
  const exit = await running.exited;
  clearTimeout(timer);
  assert.notEqual(exit.signal, 'SIGKILL', `pns ${args.join(' ')} did not exit within ${cliTimeoutMs} ms`);
  return exit;
}

function decodeClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('pns CLI', { timeout: 120_000 }, () => {
  after(killStarted);

  describe('#help', { concurrency: 4 }, () => {
    const cases: [string[], RegExp][] = [
      [['--help'], /^Usage: pns <command>/],
      [['-h'], /^Usage: pns <command>/],
      [['help'], /^Usage: pns <command>/],
      [['serve', '--help'], /^Usage: pns serve/],
      [['token', '--help'], /^Usage: pns token/],
      [['publish', '--help'], /^Usage: pns publish/],
    ];
    for (const [args, usage] of cases) {
      it(`pns ${args.join(' ')} prints usage and exits 0`, async () => {
        const exit = await run(args);
        assert.equal(exit.code, 0, exit.stderr);
        assert.match(exit.stdout, usage);
        assert.equal(exit.stderr, '');
      });
    }

    it('pns serve --help lists every setting with its flag and environment variable', async () => {
      const exit = await run(['serve', '--help']);
      for (const text of ['--port', 'PNS_PORT', '--secret', 'PNS_SECRET', '--publish-key', 'PNS_PUBLISH_KEY', '--log-level']) {
        assert.ok(exit.stdout.includes(text), `missing ${text}`);
      }
    });

    it('pns without a command prints usage and exits 2', async () => {
      const exit = await run([]);
      assert.equal(exit.code, 2);
      assert.match(exit.stdout, /^Usage: pns <command>/);
    });
  });

  describe('#usage errors', { concurrency: 4 }, () => {
    const secretEnv = { PNS_SECRET: testSecret };
    const cases: { name: string; args: string[]; env?: Record<string, string>; reason: RegExp }[] = [
      { name: 'unknown command', args: ['frobnicate'], reason: /unknown command/ },
      { name: 'unknown flag before any command', args: ['--frobnicate'], reason: /unknown command/ },
      { name: 'token with an unknown flag', args: ['token', '--frobnicate'], reason: /frobnicate/ },
      { name: 'serve with an unknown flag', args: ['serve', '--frobnicate', '--port', '0'], reason: /frobnicate/ },
      { name: 'publish with an unknown flag', args: ['publish', '--frobnicate'], reason: /frobnicate/ },
      { name: 'token with a positional argument', args: ['token', 'extra'], reason: /extra/ },
      { name: 'token without --user', args: ['token', '--secret', testSecret], reason: /--user/ },
      { name: 'token without a secret', args: ['token', '--user', '42'], reason: /secret/ },
      { name: 'token with an invalid user id', args: ['token', '--user', 'a b', '--secret', testSecret], reason: /user/i },
      { name: 'token with an invalid ttl', args: ['token', '--user', '42', '--ttl', 'soon', '--secret', testSecret], reason: /ttl/i },
      { name: 'serve --port abc', args: ['serve', '--port', 'abc'], reason: /PNS_PORT/ },
      { name: 'serve --port 70000', args: ['serve', '--port', '70000'], reason: /PNS_PORT/ },
      { name: 'serve --log-level loud', args: ['serve', '--port', '0', '--log-level', 'loud'], reason: /PNS_LOG_LEVEL/ },
      {
        name: 'serve with PNS_SECRET set but no publish key',
        args: ['serve', '--port', '0'],
        env: secretEnv,
        reason: /PNS_PUBLISH_KEY/,
      },
      {
        name: 'serve with the publish key equal to the secret',
        args: ['serve', '--port', '0'],
        env: { PNS_SECRET: testSecret, PNS_PUBLISH_KEY: testSecret },
        reason: /PNS_PUBLISH_KEY/,
      },
      { name: 'serve with a short secret', args: ['serve', '--port', '0', '--secret', 'short'], reason: /PNS_SECRET/ },
      {
        name: 'serve with a JWKS file that does not exist',
        args: ['serve', '--port', '0', '--jwks', '/nonexistent/jwks.json', '--publish-key', testPublishKey],
        reason: /PNS_JWKS/,
      },
      { name: 'serve with hold above the maximum', args: ['serve', '--port', '0', '--hold-seconds', '500'], reason: /PNS_HOLD_SECONDS/ },
      { name: 'publish without --to', args: ['publish', '--type', '70', '--publish-key', testPublishKey], reason: /--to/ },
      { name: 'publish without --type', args: ['publish', '--to', 'user:42', '--publish-key', testPublishKey], reason: /--type/ },
      { name: 'publish without a publish key', args: ['publish', '--to', 'user:42', '--type', '70'], reason: /publish key/ },
      {
        name: 'publish with --data that is not JSON',
        args: ['publish', '--to', 'user:42', '--type', '70', '--data', '{nope', '--publish-key', testPublishKey],
        reason: /--data/,
      },
      {
        name: 'publish with --ttl 0',
        args: ['publish', '--to', 'user:42', '--type', '70', '--ttl', '0', '--publish-key', testPublishKey],
        reason: /--ttl/,
      },
    ];
    for (const { name, args, env, reason } of cases) {
      it(`${name}: exits 2 with a one-line reason`, async () => {
        const exit = await run(args, cleanEnv(env));
        assert.equal(exit.code, 2, `stdout: ${exit.stdout} stderr: ${exit.stderr}`);
        assert.match(exit.stderr, /^pns [^\n]+\n$/, `stderr is not one line: ${JSON.stringify(exit.stderr)}`);
        assert.match(exit.stderr, reason);
        assert.doesNotMatch(exit.stderr, /\bat\s+\S+\s+\(|node:internal|\.js:\d+/);
        assert.equal(exit.stdout, '');
      });
    }
  });

  describe('#token', () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ holdSeconds: '0' });
    });
    after(() => t.close());

    it('prints a JWT with sub, topics and a one-hour exp that the server accepts', async () => {
      const exit = await run(['token', '--user', '42', '--topics', 'news', '--secret', testSecret]);
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.stderr, '');
      const token = exit.stdout.trim();
      assert.equal(exit.stdout, `${token}\n`);
      assert.match(token, jwtPattern);
      const claims = decodeClaims(token);
      assert.equal(claims.sub, '42');
      assert.deepEqual(claims.topics, ['news']);
      assert.equal((claims.exp as number) - (claims.iat as number), 3600);

      const answer = await request(pollUrl(t.url, { sid: token, ch: 'topic:news', hold: 0 }));
      assert.equal(answer.status, 200, answer.text);
      assert.equal((answer.json as PollResponse).c, 0);
    });

    it('signs with the first of several secrets in PNS_SECRET (rotation), which a server listing both accepts', async () => {
      const exit = await run(['token', '--user', 'rotated'], cleanEnv({ PNS_SECRET: ` ${testSecret} ,an-older-secret-0123456789` }));
      assert.equal(exit.code, 0, exit.stderr);
      const answer = await request(pollUrl(t.url, { sid: exit.stdout.trim(), hold: 0 }));
      assert.equal(answer.status, 200, answer.text);
    });

    it('takes the secret from PNS_SECRET and the lifetime from --ttl', async () => {
      const exit = await run(['token', '--user', 'alice', '--ttl', '15m'], cleanEnv({ PNS_SECRET: testSecret }));
      assert.equal(exit.code, 0, exit.stderr);
      const token = exit.stdout.trim();
      const claims = decodeClaims(token);
      assert.equal(claims.sub, 'alice');
      assert.equal(claims.topics, undefined);
      assert.equal((claims.exp as number) - (claims.iat as number), 900);
      assert.equal((await request(pollUrl(t.url, { sid: token, hold: 0 }))).status, 200);
    });

    it('sets iss and aud from PNS_JWT_ISSUER and PNS_JWT_AUDIENCE, and --issuer and --audience win', async () => {
      const env = cleanEnv({ PNS_SECRET: testSecret, PNS_JWT_ISSUER: 'https://id.example', PNS_JWT_AUDIENCE: 'pns' });
      const fromEnv = decodeClaims((await run(['token', '--user', '42'], env)).stdout.trim());
      assert.equal(fromEnv.iss, 'https://id.example');
      assert.equal(fromEnv.aud, 'pns');
      const fromFlags = decodeClaims((await run(['token', '--user', '42', '--issuer', 'other', '--audience', 'app'], env)).stdout.trim());
      assert.equal(fromFlags.iss, 'other');
      assert.equal(fromFlags.aud, 'app');
    });

    it('prints a token the server refuses when signed with another secret', async () => {
      const exit = await run(['token', '--user', '42', '--secret', 'some-other-secret-0123456789']);
      assert.equal(exit.code, 0, exit.stderr);
      const answer = await request(pollUrl(t.url, { sid: exit.stdout.trim(), hold: 0 }));
      assert.equal(answer.status, 401);
      assert.equal((answer.json as { errorCode: string }).errorCode, 'SESSION_INVALID');
    });
  });

  describe('#serve', () => {
    it('in dev mode prints a banner with a working token, publish key, curl commands and the pages it serves', async () => {
      const serve = startCli(['serve', '--port', '0']);
      const banner = await serve.waitForOutput(
        // The log line and the banner are separate writes: wait for both.
        (stdout) => (/curl -X POST[^\n]*\n/.test(stdout) && listeningUrl(stdout) !== undefined ? stdout : undefined),
        'dev banner with curl commands',
      );
      assert.match(banner, /dev mode/);
      const sid = /SID=(\S+)/.exec(banner)?.[1];
      const publishKey = /PNS_PUBLISH_KEY=(\S+)/.exec(banner)?.[1];
      const url = /curl "(http:\/\/127\.0\.0\.1:\d+)\/pns\/poll\?sid=\$SID&comeFrom=1003"/.exec(banner)?.[1];
      assert.ok(sid && publishKey && url, banner);
      assert.match(sid, jwtPattern);
      assert.ok(banner.includes(`curl -X POST ${url}/pns/publish -H "Authorization: Bearer ${publishKey}"`), banner);
      // The pages it names are there.
      const pages = [/Webmail demo[^\n]*: (http:\S+)/.exec(banner)?.[1], /Operations dashboard: (http:\S+)/.exec(banner)?.[1]];
      assert.deepEqual(pages, [`${url}/`, `${url}/pns/admin`]);
      for (const page of pages) assert.match(String((await fetch(page as string)).headers.get('content-type')), /^text\/html/);
      assert.equal(listeningUrl(serve.stdout()), url);

      const polled = await request(pollUrl(url, { sid, ch: 'topic:news', hold: 0 }));
      assert.equal(polled.status, 200, polled.text);
      const published = await request(`${url}/pns/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${publishKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: 'user:42', type: 70, data: { subject: 'hi' } }),
      });
      assert.equal(published.status, 200, published.text);

      const exit = await stopCli(serve);
      assert.equal(exit.code, 0, exit.stderr);
    });

    it('serves end to end: `pns publish` reaches a poll held before it, and SIGTERM exits 0', async () => {
      const env = cleanEnv({ PNS_SECRET: testSecret, PNS_PUBLISH_KEY: testPublishKey });
      const serve = await spawnServer({ args: ['--host', '127.0.0.1', '--log-level', 'info'], env });
      const { url } = serve;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.doesNotMatch(serve.stdout(), /SID=/, 'no dev banner outside dev mode');

      const sid = await createToken({ secret: testSecret, user: '42', topics: ['news'] });
      // The first poll of this sid+comeFrom remembers its position from now on.
      const first = await request(pollUrl(url, { sid, comeFrom: '1003', hold: 0 }));
      assert.equal(first.status, 200, first.text);
      const held = request(pollUrl(url, { sid, comeFrom: '1003', hold: 20 }));
      held.catch(() => {}); // awaited below; this keeps an early failure from also reporting an unhandled rejection
      // Publish only once the poll is held (bounded wait on the metrics).
      const deadline = Date.now() + 5000;
      for (;;) {
        const metrics = await request(`${url}/metrics`);
        if (/pns_held_connections\{transport="longpoll"\} 1\b/.test(metrics.text)) break;
        assert.ok(Date.now() < deadline, 'the poll was never held');
        await delay(20);
      }

      const published = await run(
        ['publish', '--to', 'user:42', '--type', '70', '--data', '{"subject":"hi"}', '--url', url],
        cleanEnv({ PNS_PUBLISH_KEY: testPublishKey }),
      );
      assert.equal(published.code, 0, published.stderr);
      const id = published.stdout.trim();
      assert.equal(published.stdout, `${id}\n`);
      assert.ok(id.length > 0);

      const answer = await held;
      assert.equal(answer.status, 200, answer.text);
      const body = answer.json as PollResponse;
      assert.equal(body.c, 1);
      assert.equal(body.msg[0]?.id, id);
      assert.equal(body.msg[0]?.ch, 'user:42');
      assert.equal(body.msg[0]?.type, 70);
      assert.deepEqual(body.msg[0]?.data, { subject: 'hi' });

      const refused = await run(
        ['publish', '--to', 'user:42', '--type', '70', '--url', url, '--publish-key', 'wrong-key-0123456789'],
        cleanEnv(),
      );
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /^pns publish: PUBLISH_UNAUTHORIZED[^\n]*\n$/);

      const exit = await stopCli(serve);
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.signal, null);
      assert.ok(serve.stdout().includes('"stopped"'), 'logs that it stopped');

      // Nothing listens there any more: the publish fails after its retries with one line.
      const unreachable = await run(
        ['publish', '--to', 'user:42', '--type', '70', '--url', url],
        cleanEnv({ PNS_PUBLISH_KEY: testPublishKey }),
      );
      assert.equal(unreachable.code, 2);
      assert.match(unreachable.stderr, /^pns publish: NETWORK_ERROR[^\n]*\n$/);
    });
  });
});
