import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { PnsError } from '@pns/protocol';
import { pino } from 'pino';
import { type RawQuery, RawRoutes, type RawRoutesOptions } from '../src/http/raw-routes.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request over a fresh connection; `host: false` sends an HTTP/1.1 request without a Host header. */
function send(port: number, path: string, options: { method?: string; headers?: Record<string, string>; host?: boolean } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const request = http.request({
      port,
      host: '127.0.0.1',
      path,
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: false,
    });
    if (options.host === false) request.removeHeader('host');
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

/** RawRoutes on a plain node:http server; requests it leaves alone get 418 from the "framework". */
function startRoutes(overrides: Partial<RawRoutesOptions> = {}) {
  const logs: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  const state = { draining: false, open: 0 };
  const routes = new RawRoutes({
    logger,
    corsOrigins: [],
    isDraining: () => state.draining,
    openConnections: () => state.open,
    maxConnections: 10,
    ...overrides,
  });
  const queries: RawQuery[] = [];
  routes.get('/echo', (exchange, query) => {
    queries.push(query);
    exchange.json(200, '{"ok":true}');
    exchange.json(201, '{"twice":true}'); // a second answer is ignored
  });
  routes.get('/refuse', () => {
    throw new PnsError('CHANNEL_FORBIDDEN');
  });
  routes.get('/crash', async () => {
    throw new Error('secret internal detail');
  });
  const server = http.createServer({ requireHostHeader: false }, (request, response) => {
    if (!routes.dispatch(request, response)) response.writeHead(418).end('framework');
  });
  return {
    routes,
    state,
    logs,
    queries,
    server,
    listen: () => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
  };
}

describe('RawRoutes', { timeout: 30_000 }, () => {
  let t: ReturnType<typeof startRoutes>;
  let port: number;
  before(async () => {
    t = startRoutes();
    port = await t.listen();
  });
  after(() => t.server.close());

  describe('#dispatch', () => {
    it('serves a GET on its path with the parsed query, repeated keys as arrays', async () => {
      const answer = await send(port, '/echo?a=1&b=x%20y&a=2');
      assert.equal(answer.status, 200);
      assert.equal(answer.body, '{"ok":true}');
      assert.deepEqual({ ...t.queries.at(-1) }, { a: ['1', '2'], b: 'x y' });
    });

    it('leaves other methods and other paths to the framework', async () => {
      assert.equal((await send(port, '/echo', { method: 'POST' })).status, 418);
      assert.equal((await send(port, '/echo/more')).status, 418);
      assert.equal((await send(port, '/other?x=/echo')).status, 418);
    });

    it('answers a handler’s PnsError with its catalog status and code', async () => {
      const answer = await send(port, '/refuse');
      assert.equal(answer.status, 403);
      assert.equal(JSON.parse(answer.body).errorCode, 'CHANNEL_FORBIDDEN');
    });

    it('answers an unexpected failure with INTERNAL_ERROR, no detail, and logs it once', async () => {
      const answer = await send(port, '/crash?sid=token-value');
      assert.equal(answer.status, 500);
      assert.equal(JSON.parse(answer.body).errorCode, 'INTERNAL_ERROR');
      assert.doesNotMatch(answer.body, /secret internal detail/);
      const failures = t.logs.filter((line) => line.includes('request failed'));
      assert.equal(failures.length, 1);
      assert.doesNotMatch(failures[0] as string, /token-value/);
    });

    it('refuses an HTTP/1.1 request without Host with BAD_REQUEST', async () => {
      const answer = await send(port, '/echo', { host: false });
      assert.equal(answer.status, 400);
      assert.equal(JSON.parse(answer.body).errorCode, 'BAD_REQUEST');
    });

    it('refuses while draining with SHUTTING_DOWN, Retry-After and Connection: close', async () => {
      t.state.draining = true;
      try {
        const answer = await send(port, '/echo');
        assert.equal(answer.status, 503);
        assert.equal(JSON.parse(answer.body).errorCode, 'SHUTTING_DOWN');
        assert.match(String(answer.headers['retry-after']), /^[1-5]$/);
        assert.equal(answer.headers.connection, 'close');
      } finally {
        t.state.draining = false;
      }
    });

    it('refuses beyond the connection cap with OVERLOADED', async () => {
      t.state.open = 11;
      try {
        const answer = await send(port, '/echo');
        assert.equal(answer.status, 503);
        assert.equal(JSON.parse(answer.body).errorCode, 'OVERLOADED');
        assert.ok(Number(answer.headers['retry-after']) >= 5);
      } finally {
        t.state.open = 0;
      }
    });
  });

  describe('#json', () => {
    it('answers once, uncacheable, with its length', async () => {
      const answer = await send(port, '/echo');
      assert.equal(answer.headers['cache-control'], 'no-store');
      assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(answer.headers['content-length'], String(Buffer.byteLength('{"ok":true}')));
    });

    it('logs each answer at debug with the sid redacted', async () => {
      await send(port, '/echo?sid=visible-token');
      const line = t.logs.filter((entry) => entry.includes('"msg":"request"')).at(-1) as string;
      assert.match(line, /"status":200/);
      assert.match(line, /sid=\[redacted\]/);
      assert.doesNotMatch(line, /visible-token/);
    });
  });

  describe('#corsHeaders', () => {
    it('writes no CORS header when no origin is configured', async () => {
      const answer = await send(port, '/echo', { headers: { origin: 'https://app.example' } });
      assert.equal(answer.headers['access-control-allow-origin'], undefined);
      assert.equal(answer.headers.vary, undefined);
    });

    it('reflects a listed origin, varies by Origin, and exposes Retry-After', async () => {
      const listed = startRoutes({ corsOrigins: ['https://app.example'] });
      const listedPort = await listed.listen();
      try {
        const allowed = await send(listedPort, '/echo', { headers: { origin: 'https://app.example' } });
        assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
        assert.equal(allowed.headers.vary, 'Origin');
        assert.equal(allowed.headers['access-control-expose-headers'], 'Retry-After');
        const other = await send(listedPort, '/echo', { headers: { origin: 'https://evil.example' } });
        assert.equal(other.headers['access-control-allow-origin'], undefined);
        assert.equal(other.headers.vary, 'Origin');
      } finally {
        listed.server.close();
      }
    });

    it('allows any origin with "*"', async () => {
      const open = startRoutes({ corsOrigins: ['*'] });
      const openPort = await open.listen();
      try {
        const answer = await send(openPort, '/refuse', { headers: { origin: 'https://anywhere.example' } });
        assert.equal(answer.headers['access-control-allow-origin'], '*');
        assert.equal(answer.headers.vary, undefined);
      } finally {
        open.server.close();
      }
    });
  });
});
