// The browser SDK in real Chromium, retries, errors, offline and CORS (setup in support/browser-suite.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, delay, expiredToken, heldPolls, mintToken, publish, waitFor } from './support/browser.js';
import { useBrowserSuite } from './support/browser-suite.js';
import { clientState, pageLog } from './support/client-page.js';

describe('PnsClient in Chromium: retries', { timeout: 150_000, skip: browserSkip }, () => {
  const suite = useBrowserSuite();
  const { newContext, tabs, proxy, waitForIds, assertIds, assertHealthy } = suite;

  describe('retries and errors', () => {
    it('waits Retry-After (2 s) after 503 OVERLOADED, not 2 minutes', async () => {
      const { url, forwarder } = await proxy({
        status: 503,
        headers: { 'content-type': 'application/json', 'retry-after': '2', 'access-control-expose-headers': 'Retry-After' },
        body: '{"errorCode":"OVERLOADED","message":"x"}',
      });
      const [page] = (await tabs(await newContext(), [{ url, sid: await mintToken('overload'), hold: 10 }])) as [Page];
      await waitFor('a second poll', () => forwarder.polls.length >= 2, 12_000);
      const [first, second] = forwarder.polls as [(typeof forwarder.polls)[0], (typeof forwarder.polls)[0]];
      assert.equal(first.status, 503);
      const waitedMs = second.start - (first.end as number);
      assert.ok(waitedMs >= 1500 && waitedMs <= 10_000, `second poll ${waitedMs} ms after the 503`);
      await waitFor('the poll is held', async () => forwarder.inFlight().length === 1 && (await heldPolls(suite.pns.url)) === 1);
      await publish(suite.pns.url, { to: 'user:overload', type: 70, id: 'o-1' });
      await waitForIds([page], ['o-1']);
      await assertIds([page], ['o-1']);
      assert.equal(forwarder.polls.filter((poll) => poll.status === 503).length, 1);
      process.stdout.write(`# 503 OVERLOADED + Retry-After: 2 → next poll after ${waitedMs} ms\n`);
      await assertHealthy([page]);
    });

    it('treats a 502 with an HTML body (a proxy, not pns) as a network error: retries after about 500 ms', async () => {
      const { url, forwarder } = await proxy({
        status: 502,
        headers: { 'content-type': 'text/html' },
        body: '<html><body><h1>502 Bad Gateway</h1></body></html>',
      });
      const [page] = (await tabs(await newContext(), [{ url, sid: await mintToken('badgateway'), hold: 10 }])) as [Page];
      await waitFor('a second poll', () => forwarder.polls.length >= 2, 5000);
      const [first, second] = forwarder.polls as [(typeof forwarder.polls)[0], (typeof forwarder.polls)[0]];
      assert.equal(first.status, 502);
      const waitedMs = second.start - (first.end as number);
      assert.ok(waitedMs >= 400 && waitedMs <= 3000, `second poll ${waitedMs} ms after the 502`);
      await waitFor('the poll is held', async () => forwarder.inFlight().length === 1 && (await heldPolls(suite.pns.url)) === 1);
      await publish(suite.pns.url, { to: 'user:badgateway', type: 70, id: 'b-1' });
      await waitForIds([page], ['b-1']);
      const log = await pageLog(page);
      assert.deepEqual([log.errors, log.expired], [[], []]);
      assert.ok(log.statuses.includes('waiting'));
      process.stdout.write(`# 502 HTML → next poll after ${waitedMs} ms\n`);
      await assertHealthy([page]);
    });

    it('stops on an expired token: sessionExpired, and no more requests', async () => {
      const { url, forwarder } = await proxy();
      const [page] = (await tabs(await newContext(), [{ url, sid: expiredToken('expired'), hold: 10 }])) as [Page];
      await waitFor('sessionExpired', async () => (await pageLog(page)).expired.length === 1);
      await delay(2000);
      const log = await pageLog(page);
      assert.deepEqual(log.expired, [{ code: 'SESSION_EXPIRED', status: 401 }]);
      assert.deepEqual(log.errors, []);
      assert.equal(forwarder.polls.length, 1, 'one request, then nothing for 2 s');
      assert.equal(forwarder.polls[0]?.status, 401);
      assert.equal((await clientState(page)).status, 'stopped');
      await assertHealthy([page]);
    });

    it('recovers when `sid` is a function that gives a fresh token on its second call', async () => {
      const { url, forwarder } = await proxy();
      const fresh = await mintToken('renewed');
      const [page] = (await tabs(await newContext(), [{ url, sids: [expiredToken('renewed'), fresh], hold: 10 }])) as [Page];
      await waitFor(
        'a held poll with the fresh token',
        async () => forwarder.inFlight().some((poll) => poll.url.includes(fresh)) && (await heldPolls(suite.pns.url)) === 1,
      );
      await publish(suite.pns.url, { to: 'user:renewed', type: 70, id: 'f-1' });
      await waitForIds([page], ['f-1']);
      await waitFor('the next poll', () => forwarder.polls.length === 4);
      const log = await pageLog(page);
      assert.equal(log.sidCalls, 2);
      assert.deepEqual([log.expired, log.errors], [[], []]);
      // Refused; then, with the fresh token, a cursor at once (hold=0); the held poll that got f-1; the next one.
      assert.deepEqual(
        forwarder.polls.map((poll) => poll.status ?? 'held'),
        [401, 200, 200, 'held'],
      );
      await assertHealthy([page]);
    });

    it('stops with an error event on 403 CHANNEL_FORBIDDEN and on 400 BAD_REQUEST', async () => {
      const { url, forwarder } = await proxy();
      const context = await newContext();
      const [forbidden, bad] = (await tabs(context, [
        { url, sid: await mintToken('forbidden', ['news']), topics: ['secret'], hold: 10 },
        { url, sid: await mintToken('badrequest'), topics: ['not a topic'], hold: 10 },
      ])) as [Page, Page];
      await waitFor('the error events', async () => (await pageLog(forbidden)).errors.length + (await pageLog(bad)).errors.length === 2);
      await delay(1000);
      assert.deepEqual((await pageLog(forbidden)).errors, [{ code: 'CHANNEL_FORBIDDEN', status: 403 }]);
      assert.deepEqual((await pageLog(bad)).errors, [{ code: 'BAD_REQUEST', status: 400 }]);
      assert.deepEqual(
        forwarder.polls.map((poll) => poll.status),
        [403, 400],
        'one request each, then nothing',
      );
      for (const page of [forbidden, bad]) {
        assert.equal((await clientState(page)).status, 'stopped');
        assert.deepEqual((await pageLog(page)).expired, []);
      }
      await assertHealthy([forbidden, bad]);
    });

    it('drops a cursor pns refuses (400 on a poll that sent one), reports a gap and polls on without it (protocol.md §11.9)', async () => {
      const { url, forwarder } = await proxy();
      const [page] = (await tabs(await newContext(), [{ url, sid: await mintToken('badcursor'), hold: 10, cursor: 'not-a-cursor' }])) as [
        Page,
      ];
      await waitFor('a held poll without the cursor', async () => (await heldPolls(suite.pns.url)) === 1, 3000);
      await publish(suite.pns.url, { to: 'user:badcursor', type: 70, id: 'c-1' });
      await waitForIds([page], ['c-1'], 3000);
      const log = await pageLog(page);
      assert.deepEqual([log.errors, log.expired, log.gaps], [[], [], [0]]);
      await waitFor('the answer at the proxy', () => forwarder.polls[1]?.status !== undefined);
      const [refused, retried] = forwarder.polls as [(typeof forwarder.polls)[0], (typeof forwarder.polls)[0]];
      assert.deepEqual(
        [refused.status, refused.url.includes('cursor=not-a-cursor'), retried.status, retried.url.includes('cursor=')],
        [400, true, 200, false],
      );
    });
  });

  describe('offline', () => {
    it('pauses while the browser is offline and reconnects at once when it is back, getting what was published meanwhile once', async () => {
      const context = await newContext();
      const [page] = (await tabs(context, [{ url: suite.pns.url, sid: await mintToken('offline'), hold: 10 }])) as [Page];
      await waitFor('the poll is held', async () => (await heldPolls(suite.pns.url)) === 1);
      await publish(suite.pns.url, { to: 'user:offline', type: 70, id: 'n-1' });
      await waitForIds([page], ['n-1']);
      await context.setOffline(true);
      await waitFor('status offline', async () => (await clientState(page)).status === 'offline', 3000);
      await waitFor('the held poll to end', async () => (await heldPolls(suite.pns.url)) === 0, 3000);
      for (const id of ['n-2', 'n-3', 'n-4']) await publish(suite.pns.url, { to: 'user:offline', type: 70, id });
      const onlineAt = Date.now();
      await context.setOffline(false);
      await waitForIds([page], ['n-4'], 3000);
      const backMs = Date.now() - onlineAt;
      await waitFor('the poll is held again', async () => (await heldPolls(suite.pns.url)) === 1);
      await publish(suite.pns.url, { to: 'user:offline', type: 70, id: 'n-5' });
      await waitForIds([page], ['n-5']);
      await assertIds([page], ['n-1', 'n-2', 'n-3', 'n-4', 'n-5']);
      process.stdout.write(`# offline: messages published while offline arrived ${backMs} ms after going online\n`);
      await assertHealthy([page]);
    });
  });

  describe('CORS', () => {
    it('lets the allowed origin read Retry-After from pns answers (Access-Control-Expose-Headers)', async () => {
      const response = await fetch(`${suite.pns.url}/pns/poll?sid=`, { headers: { origin: suite.web.origin } });
      await response.arrayBuffer();
      assert.equal(response.headers.get('access-control-allow-origin'), suite.web.origin);
      const exposed = (response.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/);
      assert.ok(exposed.includes('retry-after'), `exposed: ${exposed}`);
    });

    it('answers the allowed origin and no other', async () => {
      const allowed = await fetch(`${suite.pns.url}/pns/poll?sid=`, { headers: { origin: suite.web.origin } });
      const other = await fetch(`${suite.pns.url}/pns/poll?sid=`, { headers: { origin: 'http://127.0.0.1:1' } });
      await Promise.all([allowed.arrayBuffer(), other.arrayBuffer()]);
      assert.deepEqual(
        [
          allowed.status,
          allowed.headers.get('access-control-allow-origin'),
          other.status,
          other.headers.get('access-control-allow-origin'),
        ],
        [400, suite.web.origin, 400, null],
      );
    });
  });
});
