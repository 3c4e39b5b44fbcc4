// Headers a client may send that the fuzzer found answered outside the catalog, or not served at all.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { assertCatalogError } from './support/bad-input-table.js';
import { rawExchange, requestHead } from './support/fuzz-wire.js';
import { startTestServer, type TestServer } from './support/harness.js';

describe('hostile headers', { timeout: 30_000 }, () => {
  let t: TestServer;
  let base: URL;
  let sid: string;
  before(async () => {
    t = await startTestServer({ holdSeconds: '0' });
    base = new URL(t.url);
    sid = await t.token('headers');
  });
  after(() => t.close());

  describe('#upgrade offers other than WebSocket', () => {
    // What `curl --http2` sends with every request to an http:// URL.
    const h2c: [string, string][] = [
      ['Host', '127.0.0.1'],
      ['Connection', 'Upgrade, HTTP2-Settings'],
      ['Upgrade', 'h2c'],
      ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA'],
    ];

    it('serves a publish that offers h2c as plain HTTP/1.1', async () => {
      const body = JSON.stringify({ to: 'user:headers', type: 1, id: 'h2c-offer' });
      const head = requestHead('POST /pns/publish HTTP/1.1', [
        ...h2c,
        ['Authorization', `Bearer ${t.config.publishKey}`],
        ['Content-Type', 'application/json'],
        ['Content-Length', String(body.length)],
      ]);
      const { answer } = await rawExchange(base, head + body);
      assert.equal(answer?.status, 200, answer?.text);
      assert.deepEqual(JSON.parse(answer.text), { ids: ['h2c-offer'] });
    });

    it('serves polls and health checks that offer h2c, and keeps the connection for the next request', async () => {
      const first = await rawExchange(base, requestHead(`GET /pns/poll?sid=${sid}&hold=0 HTTP/1.1`, h2c), { keep: true });
      assert.equal(first.answer?.status, 200, first.answer?.text);
      assert.equal(typeof (JSON.parse(first.answer.text) as { cursor?: unknown }).cursor, 'string');
      const socket = first.socket as Socket;
      const next = new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1');
        });
        socket.on('close', () => resolve(text));
      });
      const last = h2c.map(([name, value]) => [name, name === 'Connection' ? `${value}, close` : value] as const);
      socket.write(requestHead('GET /healthz HTTP/1.1', last));
      assert.match(await next, /^HTTP\/1\.1 200 /);
    });

    it('still refuses a WebSocket upgrade on any path but /pns/ws with NOT_FOUND', async () => {
      const head = requestHead(`GET /pns/poll?sid=${sid} HTTP/1.1`, [
        ['Host', '127.0.0.1'],
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
        ['Sec-WebSocket-Version', '13'],
        ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
      ]);
      const { answer } = await rawExchange(base, head);
      assert.ok(answer);
      assert.equal(assertCatalogError(answer, 'websocket upgrade on /pns/poll').errorCode, 'NOT_FOUND');
    });
  });

  describe('#Expect other than 100-continue', () => {
    for (const expect of ['', 'foo', '200-ok', 'x'.repeat(100)]) {
      it(`serves a poll, a publish and a health check with Expect: ${JSON.stringify(expect.slice(0, 10))}`, async () => {
        const host: [string, string] = ['Host', '127.0.0.1'];
        const poll = await rawExchange(base, requestHead(`GET /pns/poll?sid=${sid}&hold=0 HTTP/1.1`, [host, ['Expect', expect]]));
        assert.equal(poll.answer?.status, 200, poll.answer?.text);
        const health = await rawExchange(base, requestHead('GET /healthz HTTP/1.1', [host, ['Expect', expect]]));
        assert.equal(health.answer?.status, 200, health.answer?.text);
        const body = JSON.stringify({ to: 'user:headers', type: 1 });
        const publish = await rawExchange(
          base,
          requestHead('POST /pns/publish HTTP/1.1', [
            host,
            ['Expect', expect],
            ['Authorization', `Bearer ${t.config.publishKey}`],
            ['Content-Type', 'application/json'],
            ['Content-Length', String(body.length)],
          ]) + body,
        );
        assert.equal(publish.answer?.status, 200, publish.answer?.text);
      });
    }

    it('still answers Expect: 100-continue with 100 Continue before the answer', async () => {
      const body = JSON.stringify({ to: 'user:headers', type: 1 });
      const { answer } = await rawExchange(
        base,
        requestHead('POST /pns/publish HTTP/1.1', [
          ['Host', '127.0.0.1'],
          ['Expect', '100-continue'],
          ['Authorization', `Bearer ${t.config.publishKey}`],
          ['Content-Type', 'application/json'],
          ['Content-Length', String(body.length)],
        ]) + body,
      );
      assert.equal(answer?.status, 100);
    });
  });

  describe('#OPTIONS that is not a CORS preflight, with PNS_CORS_ORIGINS set', () => {
    let cors: TestServer;
    before(async () => {
      cors = await startTestServer({ corsOrigins: 'https://app.example' });
    });
    after(() => cors.close());

    for (const [name, headers] of [
      ['no Origin, no Access-Control-Request-Method', []],
      ['no Access-Control-Request-Method', [['Origin', 'https://app.example']]],
      ['no Origin', [['Access-Control-Request-Method', 'GET']]],
    ] as [string, [string, string][]][]) {
      it(`answers one with ${name} with BAD_REQUEST from the catalog (found by fuzz-streams)`, async () => {
        for (const path of ['/pns/poll', '/pns/ws', '/pns/publish', '/nowhere']) {
          const { answer } = await rawExchange(
            new URL(cors.url),
            requestHead(`OPTIONS ${path} HTTP/1.1`, [['Host', '127.0.0.1'], ...headers]),
          );
          assert.ok(answer);
          assert.equal(assertCatalogError(answer, `OPTIONS ${path}`).errorCode, 'BAD_REQUEST');
        }
      });
    }

    it('still answers a preflight with 204 and the CORS headers', async () => {
      const { answer } = await rawExchange(
        new URL(cors.url),
        requestHead('OPTIONS /pns/poll HTTP/1.1', [
          ['Host', '127.0.0.1'],
          ['Origin', 'https://app.example'],
          ['Access-Control-Request-Method', 'GET'],
        ]),
      );
      assert.equal(answer?.status, 204);
      assert.equal(answer.headers['access-control-allow-origin'], 'https://app.example');
    });
  });
});
