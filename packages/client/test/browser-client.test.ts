// The browser SDK in real Chromium, delivery and tabs: the bundle on a page of another origin than pns, against
// the real `pns serve` process. Each case opens its own browser context and closes it when done.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, freePort, heldPolls, mintToken, publish, startPns, waitFor } from './support/browser.js';
import { useBrowserSuite } from './support/browser-suite.js';
import { clientState, openClientPage, pageLog } from './support/client-page.js';

describe('PnsClient in Chromium', { timeout: 150_000, skip: browserSkip }, () => {
  const suite = useBrowserSuite();
  const { newContext, tabs, heldSettles, waitForIds, assertIds, assertHealthy, closeContexts } = suite;

  describe('delivery', () => {
    it('delivers typed messages to onMessage; message types named like lifecycle events never fire those events', async () => {
      const [page] = (await tabs(await newContext(), [
        {
          url: suite.pns.url,
          sid: await mintToken('typed', ['news']),
          topics: ['news'],
          hold: 10,
          typed: [70, 'digest', 'gap', 'status', '70'],
        },
      ])) as [Page];
      await waitFor('the poll is held', async () => (await heldPolls(suite.pns.url)) === 1);
      await publish(suite.pns.url, [
        { to: 'user:typed', type: 70, data: { subject: 'a' }, id: 'typed-1' },
        { to: ['user:typed', 'topic:news'], type: 'digest', id: 'typed-2' },
        { to: 'user:typed', type: 'gap', data: { c: 1 }, id: 'typed-3' },
        { to: 'topic:news', type: 'status', data: 'stopped', id: 'typed-4' },
        { to: 'user:typed', type: '70', id: 'typed-5' },
      ]);
      await publish(suite.pns.url, { to: 'user:typed', type: 70, data: { subject: 'b' }, id: 'typed-6' });
      const ids = ['typed-1', 'typed-2', 'typed-3', 'typed-4', 'typed-5', 'typed-6'];
      await waitForIds([page], ids);
      await assertIds([page], ids);
      const log = await pageLog(page);
      assert.deepEqual(log.typed, {
        'number:70': ['typed-1', 'typed-6'],
        'string:digest': ['typed-2'],
        'string:gap': ['typed-3'],
        'string:status': ['typed-4'],
        'string:70': ['typed-5'],
      });
      assert.deepEqual(log.gaps, [], 'a message of type "gap" is not a gap');
      assert.ok(!log.statuses.includes('stopped'), 'a message of type "status" is not a status');
      assert.deepEqual(log.errors, []);
      assert.deepEqual(log.expired, []);
      assert.deepEqual(
        log.messages.map((m) => [m.ch, m.type, m.data]),
        [
          ['user:typed', 70, { subject: 'a' }],
          ['user:typed', 'digest', null],
          ['user:typed', 'gap', { c: 1 }],
          ['topic:news', 'status', 'stopped'],
          ['user:typed', '70', null],
          ['user:typed', 70, { subject: 'b' }],
        ],
      );
      await assertHealthy([page]);
    });

    it('gets every message published after a server restart, none twice, and reports a gap', async () => {
      const port = await freePort();
      let server = await startPns(suite.web.origin, { port });
      try {
        const [page] = (await tabs(await newContext(), [{ url: server.url, sid: await mintToken('restart'), hold: 10 }])) as [Page];
        await waitFor('the poll is held', async () => (await heldPolls(server.url)) === 1);
        for (const id of ['r-1', 'r-2', 'r-3']) await publish(server.url, { to: 'user:restart', type: 70, id });
        await waitForIds([page], ['r-3']);
        assert.equal(await server.stop(), 0);
        server = await startPns(suite.web.origin, { port });
        const restartedAt = Date.now();
        for (const id of ['r-4', 'r-5', 'r-6']) await publish(server.url, { to: 'user:restart', type: 70, id });
        await waitForIds([page], ['r-6'], 20_000);
        const reconnectMs = Date.now() - restartedAt;
        await waitFor('the poll is held again', async () => (await heldPolls(server.url)) === 1);
        await publish(server.url, { to: 'user:restart', type: 70, id: 'r-7' });
        await waitForIds([page], ['r-7']);
        await assertIds([page], ['r-1', 'r-2', 'r-3', 'r-4', 'r-5', 'r-6', 'r-7']);
        const log = await pageLog(page);
        assert.deepEqual(log.gaps, [0], 'one gap, for the restart');
        assert.deepEqual(log.errors, []);
        process.stdout.write(`# restart: messages after the restart arrived ${reconnectMs} ms after the new server was up\n`);
        await assertHealthy([page]);
      } finally {
        await closeContexts();
        await server.stop(2000);
      }
    });
  });

  describe('tabs', () => {
    it('three tabs of one user share one held poll, each gets every message once, and another tab leads when the leader closes', async () => {
      const sid = await mintToken('tabs', ['news']);
      const config = { url: suite.pns.url, sid, topics: ['news'], hold: 10 };
      const pages = await tabs(await newContext(), [config, config, config]);
      await waitFor('one leader polling, two following', async () => {
        const states = await Promise.all(pages.map(clientState));
        return (
          states.filter((s) => s.leader && s.status === 'polling').length === 1 &&
          states.filter((s) => !s.leader && s.status === 'following').length === 2
        );
      });
      await heldSettles(1);
      await publish(suite.pns.url, { to: 'user:tabs', type: 70, id: 'k-1' });
      await publish(suite.pns.url, [
        { to: 'topic:news', type: 'digest', id: 'k-2' },
        { to: ['user:tabs', 'topic:news'], type: 70, id: 'k-3' },
      ]);
      await publish(suite.pns.url, { to: 'user:tabs', type: 70, id: 'k-4' });
      await waitForIds(pages, ['k-4']);
      await assertIds(pages, ['k-1', 'k-2', 'k-3', 'k-4']);

      const states = await Promise.all(pages.map(clientState));
      const leader = states.findIndex((s) => s.leader);
      const [closing] = pages.splice(leader, 1) as [Page];
      const closedAt = Date.now();
      await closing.close();
      await publish(suite.pns.url, { to: 'user:tabs', type: 70, id: 'k-5' });
      await publish(suite.pns.url, { to: 'topic:news', type: 70, id: 'k-6' });
      await waitFor(
        'another tab to lead',
        async () => (await Promise.all(pages.map(clientState))).filter((s) => s.leader).length === 1,
        5000,
      );
      const takeoverMs = Date.now() - closedAt;
      await waitForIds(pages, ['k-6']);
      await heldSettles(1);
      await publish(suite.pns.url, { to: 'user:tabs', type: 70, id: 'k-7' });
      await waitForIds(pages, ['k-7']);
      await assertIds(pages, ['k-1', 'k-2', 'k-3', 'k-4', 'k-5', 'k-6', 'k-7']);
      process.stdout.write(`# tabs: a follower took the lead ${takeoverMs} ms after the leader closed\n`);
      await assertHealthy(pages);
    });

    it('hands over without losing messages even when the leader closes before its first answer', async () => {
      const config = { url: suite.pns.url, sid: await mintToken('early'), hold: 10 };
      const pages = await tabs(await newContext(), [config, config, config]);
      await heldSettles(1);
      const states = await Promise.all(pages.map(clientState));
      const [closing] = pages.splice(
        states.findIndex((s) => s.leader),
        1,
      ) as [Page];
      await closing.close();
      await publish(suite.pns.url, { to: 'user:early', type: 70, id: 'e-1' });
      await waitFor('another tab to lead', async () => (await Promise.all(pages.map(clientState))).filter((s) => s.leader).length === 1);
      await heldSettles(1);
      await publish(suite.pns.url, { to: 'user:early', type: 70, id: 'e-2' });
      await waitForIds(pages, ['e-2']);
      await assertIds(pages, ['e-1', 'e-2']);
    });

    it('start(), stop() and start() again at once (a remounting UI) leave no tab lock behind', async () => {
      const sid = await mintToken('remount');
      const context = await newContext();
      const first = await context.newPage();
      await openClientPage(first, suite.web.origin);
      await first.evaluate(
        ({ url, token }) => {
          const slowSid = (): Promise<string> => new Promise((resolve) => setTimeout(() => resolve(token), 100));
          const client = new (
            window as unknown as { Pns: { PnsClient: new (o: object) => { start(): Promise<void>; stop(): void } } }
          ).Pns.PnsClient({ url, sid: slowSid, transport: 'longpoll', hold: 10 });
          (window as unknown as { remount: unknown }).remount = client;
          void client.start();
          client.stop();
          return client.start();
        },
        { url: suite.pns.url, token: sid },
      );
      await heldSettles(1);
      await first.evaluate(() => (window as unknown as { remount: { stop(): void } }).remount.stop());
      await heldSettles(0);
      const [second] = (await tabs(context, [{ url: suite.pns.url, sid, hold: 10 }])) as [Page];
      await waitFor('the new tab to lead', async () => (await clientState(second)).leader, 5000);
      await heldSettles(1);
    });

    it('tabs of different users never share a poll', async () => {
      const alice = { url: suite.pns.url, sid: await mintToken('alice'), hold: 10 };
      const bob = { url: suite.pns.url, sid: await mintToken('bob'), hold: 10 };
      const pages = await tabs(await newContext(), [alice, bob, alice, bob]);
      await heldSettles(2);
      const states = await Promise.all(pages.map(clientState));
      assert.deepEqual(
        [states[0]?.leader !== states[2]?.leader, states[1]?.leader !== states[3]?.leader],
        [true, true],
        'one leader per user',
      );
      await publish(suite.pns.url, { to: 'user:alice', type: 70, id: 'u-a' });
      await publish(suite.pns.url, { to: 'user:bob', type: 70, id: 'u-b' });
      await publish(suite.pns.url, { to: ['user:alice', 'user:bob'], type: 70, id: 'u-ab' });
      await waitForIds(pages, ['u-ab']);
      const [a1, b1, a2, b2] = pages as [Page, Page, Page, Page];
      await assertIds([a1, a2], ['u-a', 'u-ab']);
      await assertIds([b1, b2], ['u-b', 'u-ab']);
      await assertHealthy(pages);
    });

    it('with share: false, every tab polls on its own', async () => {
      const config = { url: suite.pns.url, sid: await mintToken('alone'), hold: 10, share: false };
      const pages = await tabs(await newContext(), [config, config, config]);
      await heldSettles(3);
      const states = await Promise.all(pages.map(clientState));
      assert.deepEqual(
        states.map((s) => s.leader),
        [true, true, true],
      );
      await publish(suite.pns.url, { to: 'user:alone', type: 70, id: 's-1' });
      await publish(suite.pns.url, { to: 'user:alone', type: 70, id: 's-2' });
      await waitForIds(pages, ['s-2']);
      await assertIds(pages, ['s-1', 's-2']);
      await assertHealthy(pages);
    });
  });
});
