import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import type { DashboardSnapshot } from '@pns/protocol';
import { ConfigError, loadConfig } from '../src/config/load-config.js';
import { delay, startTestServer, type TestServer, waitFor, withTestServer } from './support/harness.js';
import { request } from './support/http-client.js';

type ErrorJson = { errorCode: string };
const adminKey = 'admin-key-for-tests-0123456789';

async function statsUntil(
  url: string,
  check: (snapshot: DashboardSnapshot) => boolean,
  headers: Record<string, string> = {},
): Promise<DashboardSnapshot> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answer = await request(`${url}/pns/admin/stats`, { headers });
    assert.equal(answer.status, 200, answer.text);
    const snapshot = answer.json as DashboardSnapshot;
    if (check(snapshot)) return snapshot;
    if (Date.now() > deadline) throw new Error(`stats never matched: ${answer.text}`);
    await delay(100);
  }
}

describe('operations dashboard', { timeout: 60_000 }, () => {
  describe('#access', () => {
    it('is closed outside dev mode without PNS_ADMIN_KEY', async () => {
      await withTestServer({}, async (t) => {
        for (const path of ['/pns/admin', '/pns/admin/stats', '/pns/admin/assets/dashboard.js']) {
          const answer = await request(`${t.url}${path}`);
          assert.equal(answer.status, 404, path);
          assert.equal((answer.json as ErrorJson).errorCode, 'NOT_FOUND');
        }
      });
    });

    it('is open in dev mode', async () => {
      await withTestServer({ secret: undefined }, async (t) => {
        const page = await request(`${t.url}/pns/admin`);
        assert.equal(page.status, 200);
        assert.match(page.text, /\/pns\/admin\/assets\/dashboard\.js/);
        const snapshot = await statsUntil(t.url, () => true);
        assert.equal(snapshot.nodes.length, 1);
        assert.match(snapshot.nodes[0]?.node ?? '', new RegExp(`^${hostname()}:${process.pid}-[0-9a-f]{4}$`));
        assert.equal((await request(`${t.url}/pns/admin/assets/webmail.js`)).status, 404, 'the dashboard serves its own files only');
      });
    });

    it('with PNS_ADMIN_KEY, answers stats to that key only (the page holds no data)', async () => {
      await withTestServer({ adminKey }, async (t) => {
        assert.equal((await request(`${t.url}/pns/admin`)).status, 200);
        for (const authorization of [undefined, 'Bearer wrong-key-0123456789abcdef', adminKey, `Bearer ${t.config.publishKey}`]) {
          const answer = await request(`${t.url}/pns/admin/stats`, { headers: authorization ? { authorization } : {} });
          assert.equal(answer.status, 401, String(authorization));
          assert.equal((answer.json as ErrorJson).errorCode, 'ADMIN_UNAUTHORIZED');
        }
        await statsUntil(t.url, () => true, { authorization: `Bearer ${adminKey}` });
      });
    });

    it('refuses an admin key equal to another key', () => {
      assert.throws(
        () => loadConfig({ secret: 'same-secret-0123456789', publishKey: 'publish-key-0123456789', adminKey: 'same-secret-0123456789' }),
        (error: unknown) => error instanceof ConfigError && error.problems.some((problem) => problem.startsWith('PNS_ADMIN_KEY')),
      );
    });
  });

  describe('#stats', () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ adminKey, maxConnections: '3' });
    });
    after(() => t.close());
    const headers = { authorization: `Bearer ${adminKey}` };

    it('counts held polls by transport, publishes, deliveries and their latency, from the metrics', async () => {
      const before = await statsUntil(t.url, () => true, headers);
      const sid = await t.token('watched');
      const held = t.poll({ sid, hold: 10 });
      const during = await statsUntil(t.url, (s) => s.total.held.longpoll === 1, headers);
      assert.equal(during.nodes[0]?.held.longpoll, 1);
      await t.publish({ to: 'user:watched', type: 70 });
      assert.equal((await held).body.c, 1);
      const afterwards = await statsUntil(
        t.url,
        (s) => s.total.held.longpoll === 0 && s.total.published === before.total.published + 1 && s.total.latency.count >= 1,
        headers,
      );
      assert.equal(afterwards.total.delivered, before.total.delivered + 1);
      assert.ok((afterwards.total.latency.p99 as number) < 5);
    });

    it('still answers at the connection cap, when polls are refused', async () => {
      const sid = await t.token('crowd');
      const held = [
        t.poll({ sid, comeFrom: 'a', hold: 5 }),
        t.poll({ sid, comeFrom: 'b', hold: 5 }),
        t.poll({ sid, comeFrom: 'c', hold: 5 }),
      ];
      // Polled in-process: a stats request while the polls connect would take one of the three places.
      await waitFor(() => t.server.hub.stats().subscriptions === 3, 5000, 'three held polls');
      assert.equal((await t.poll({ sid, comeFrom: 'd', hold: 0 })).status, 503);
      const crowded = await statsUntil(t.url, (s) => s.total.held.longpoll === 3, headers);
      assert.ok(crowded.total.openConnections >= 3);
      await t.publish({ to: 'user:crowd', type: 70 }, { abortAfterMs: 2000 }).catch(() => undefined);
      await Promise.all(held);
    });
  });
});
