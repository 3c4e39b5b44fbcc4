import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer, waitFor } from './support/harness.js';
import { request } from './support/http-client.js';

type ErrorJson = { errorCode: string };

describe('operations', { timeout: 60_000 }, () => {
  describe('#health and metrics', () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer();
    });
    after(() => t.close());

    it('answers /healthz and /readyz', async () => {
      assert.deepEqual((await request(`${t.url}/healthz`)).json, { status: 'ok', pid: process.pid });
      assert.deepEqual((await request(`${t.url}/readyz`)).json, { status: 'ready' });
    });

    it('exposes held connections, polls, publishes, deliveries, latency and event-loop lag', async () => {
      const sid = await t.token('m1');
      const held = t.poll({ sid, hold: 10 });
      await waitFor(() => t.server.hub.stats().subscriptions === 1, 5000, 'held poll');
      const during = (await request(`${t.url}/metrics`)).text;
      assert.match(during, /pns_held_connections\{transport="longpoll"\} 1/);
      assert.match(during, /pns_hub_entries\{kind="subscriptions"\} 1/);
      assert.match(during, /pns_hub_entries\{kind="users"\} 1/);
      assert.match(during, /pns_broker_channels 1/);
      await t.publish({ to: 'user:m1', type: 70 });
      await held;
      const text = (await request(`${t.url}/metrics`)).text;
      assert.match(text, /pns_held_connections\{transport="longpoll"\} 0/);
      // Everything the hub and the broker tracked for the poll is gone with it.
      for (const kind of ['subscriptions', 'channels', 'sessions', 'users', 'addresses']) {
        assert.match(text, new RegExp(`pns_hub_entries\\{kind="${kind}"\\} 0`));
      }
      assert.match(text, /pns_broker_channels 0/);
      assert.match(text, /pns_polls_total\{outcome="message"\} 1/);
      assert.match(text, /pns_messages_published_total 1/);
      assert.match(text, /pns_messages_delivered_total\{transport="longpoll"\} 1/);
      assert.match(text, /pns_publish_to_delivery_seconds_count 1/);
      assert.match(text, /nodejs_eventloop_lag_seconds/);
      assert.match(text, /pns_open_connections \d+/);
    });

    it('never logs a session token or a key', async () => {
      const sid = await t.token('secretive');
      await t.poll({ sid, hold: 0, comeFrom: '1003' });
      await t.poll({ sid: `${sid}x`, hold: 0 });
      await t.publish({ to: 'user:secretive', type: 70 });
      const logs = t.logs.join('');
      assert.ok(logs.includes('[redacted]'), 'poll requests are logged, with the sid redacted');
      assert.ok(!logs.includes(sid.slice(0, 40)));
      assert.ok(!logs.includes(t.config.publishKey));
      assert.ok(!logs.includes(t.config.secret as string));
    });
  });

  describe('#cors', () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ corsOrigins: 'https://mail.example, https://app.example' });
    });
    after(() => t.close());

    it('allows the configured origins only', async () => {
      const sid = await t.token('cors');
      const allowed = await t.poll({ sid, hold: 0 }, { headers: { origin: 'https://mail.example' } });
      assert.equal(allowed.headers['access-control-allow-origin'], 'https://mail.example');
      const other = await t.poll({ sid, hold: 0 }, { headers: { origin: 'https://evil.example' } });
      assert.equal(other.headers['access-control-allow-origin'], undefined);
    });

    it('lets a browser read refusals made before routing, and their Retry-After', async () => {
      const crowded = await startTestServer({ corsOrigins: 'https://app.example', maxConnections: '1' });
      try {
        const sid = await crowded.token('cors');
        const held = crowded.poll({ sid, comeFrom: 'a', hold: 2 });
        await waitFor(() => crowded.server.hub.stats().subscriptions === 1, 5000, 'held poll');
        const refused = await crowded.poll({ sid, comeFrom: 'b', hold: 0 }, { headers: { origin: 'https://app.example' } });
        assert.equal((refused.json as ErrorJson).errorCode, 'OVERLOADED');
        assert.equal(refused.headers['access-control-allow-origin'], 'https://app.example');
        assert.match(String(refused.headers['access-control-expose-headers']), /retry-after/i);
        await held;
      } finally {
        await crowded.close();
      }
    });
  });

  describe('#broker unavailable', () => {
    it('answers 503 BACKEND_UNAVAILABLE with Retry-After to polls and publishes', async () => {
      const t = await startTestServer();
      const sid = await t.token('down');
      await t.server.broker.close();
      const publish = await t.publish({ to: 'user:down', type: 70 });
      assert.equal(publish.status, 503);
      assert.equal((publish.json as ErrorJson).errorCode, 'BACKEND_UNAVAILABLE');
      assert.equal(publish.headers['retry-after'], '5');
      const poll = await t.poll({ sid, hold: 0 });
      assert.equal(poll.status, 503);
      assert.equal((poll.json as ErrorJson).errorCode, 'BACKEND_UNAVAILABLE');
      await t.close();
    });
  });

  describe('#connection limit', () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ maxConnections: '2' });
    });
    after(() => t.close());

    it('answers 503 OVERLOADED with Retry-After beyond the limit, never a reset', async () => {
      const sid = await t.token('crowd');
      const held = [t.poll({ sid, comeFrom: 'a', hold: 5 }), t.poll({ sid, comeFrom: 'b', hold: 5 })];
      await waitFor(() => t.server.hub.stats().subscriptions === 2, 5000, 'two held polls');
      const refused = await t.poll({ sid, comeFrom: 'c', hold: 5 });
      assert.equal(refused.status, 503);
      assert.equal((refused.json as ErrorJson).errorCode, 'OVERLOADED');
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      assert.equal((await request(`${t.url}/healthz`)).status, 200, 'operations endpoints still answer');
      await t.publish({ to: 'user:crowd', type: 70 }, { abortAfterMs: 2000 }).catch(() => undefined);
      for (const answer of await Promise.all(held)) assert.equal(answer.status, 200);
    });
  });

  describe('#shutdown', () => {
    it('answers every held poll with c:0 and Connection: close within the window, then refuses new requests', async () => {
      const t = await startTestServer({ drainSeconds: '1' });
      const sid = await t.token('drained');
      const polls = [];
      for (let i = 0; i < 20; i++) polls.push(t.poll({ sid: await t.token(`d${i}`), hold: 60 }));
      await waitFor(() => t.server.hub.stats().subscriptions === 20, 5000, 'held polls');
      const started = Date.now();
      const shutdown = t.close();
      const late = await t.poll({ sid, hold: 0 }).catch(() => undefined);
      if (late) {
        // A request that still reaches the draining server is told to come back soon, not in 2 minutes.
        assert.equal(late.status, 503);
        assert.equal((late.json as ErrorJson).errorCode, 'SHUTTING_DOWN');
        const retryAfter = Number(late.headers['retry-after']);
        assert.ok(retryAfter >= 1 && retryAfter <= 5);
      }
      const answers = await Promise.all(polls);
      await shutdown;
      const elapsed = Date.now() - started;
      for (const answer of answers) {
        assert.equal(answer.status, 200);
        assert.equal(answer.body.c, 0);
        assert.equal(answer.headers.connection, 'close');
      }
      assert.ok(elapsed >= 500, `answers are spread over the window (took ${elapsed} ms)`);
      assert.ok(elapsed < 10_000);
      assert.deepEqual(t.server.hub.stats(), { subscriptions: 0, channels: 0, sessions: 0, users: 0, addresses: 0 });
    });

    it('reports not ready while draining, on a connection that was already open', async () => {
      const t = await startTestServer({ drainSeconds: '1' });
      // Several held polls, so the drain lasts most of its window.
      const held = Promise.all([1, 2, 3, 4].map(async (n) => t.poll({ sid: await t.token(`ready-${n}`), hold: 60 })));
      await waitFor(() => t.server.hub.stats().subscriptions === 4, 5000, 'held polls');
      const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
      assert.equal((await request(`${t.url}/readyz`, { agent: keepAlive })).status, 200);
      const shutdown = t.close();
      const ready = await request(`${t.url}/readyz`, { agent: keepAlive });
      assert.equal(ready.status, 503);
      assert.equal((ready.json as ErrorJson).errorCode, 'SHUTTING_DOWN');
      await assert.rejects(request(`${t.url}/healthz`), /ECONNREFUSED/, 'no new connections are accepted');
      await held;
      await shutdown;
      keepAlive.destroy();
    });
  });
});
