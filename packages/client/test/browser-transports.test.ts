// The browser SDK in real Chromium over each transport (WebSocket, SSE, long polling) and with `auto`, through
// proxies that refuse WebSocket upgrades or buffer answers: the client ends up on a transport that works, delivers
// everything once, and keeps doing so when it switches transport in the middle of a stream.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, delay, expiredToken, heldConnections, mintToken, publish, waitFor } from './support/browser.js';
import { useBrowserSuite } from './support/browser-suite.js';
import { clientState, openClientPage, pageLog, type StartConfig, startClient } from './support/client-page.js';
import type { ProxyBehaviour } from './support/transport-proxy.js';

type Transport = 'websocket' | 'sse' | 'longpoll';

const passAll: ProxyBehaviour = { upgrades: 'pass', buffer: false };
const noUpgrades: ProxyBehaviour = { upgrades: 'refuse', buffer: false };
const noUpgradesBuffered: ProxyBehaviour = { upgrades: 'refuse', buffer: true };

describe('PnsClient in Chromium: transports', { timeout: 240_000, skip: browserSkip }, () => {
  const suite = useBrowserSuite();
  const { newContext, tabs, transportProxy, waitForIds, assertIds, assertHealthy } = suite;

  /** The transport's held connections on pns reach `count`. */
  function held(transport: Transport, count: number, timeoutMs = 15_000): Promise<unknown> {
    return waitFor(
      `${count} held ${transport} connections`,
      async () => (await heldConnections(suite.pns.url, transport)) === count,
      timeoutMs,
    );
  }

  /** The client has a position: everything published from now on reaches it. */
  function hasCursor(page: Page): Promise<boolean> {
    return page.evaluate(() => (window as unknown as { pns: { cursor?: string } }).pns.cursor !== undefined);
  }

  /** Publishes `prefix-1…prefix-count` to `user` one after the other, `gapMs` apart; resolves with the ids. */
  async function publishSeries(user: string, prefix: string, count: number, gapMs = 0): Promise<string[]> {
    const ids: string[] = [];
    for (let n = 1; n <= count; n++) {
      const id = `${prefix}-${n}`;
      await publish(suite.pns.url, { to: `user:${user}`, type: 70, data: { n }, id });
      ids.push(id);
      if (gapMs > 0) await delay(gapMs);
    }
    return ids;
  }

  for (const transport of ['websocket', 'sse', 'longpoll'] as const) {
    describe(transport, () => {
      it('delivers to the user and its topics once each, and resumes after every connection is cut', async () => {
        const proxy = await transportProxy(passAll);
        const user = `each-${transport}`;
        const config: StartConfig = { url: proxy.url, sid: await mintToken(user, ['news']), topics: ['news'], hold: 10, transport };
        const [page] = (await tabs(await newContext(), [config])) as [Page];
        await held(transport, 1);
        await publish(suite.pns.url, [
          { to: `user:${user}`, type: 70, id: `${transport}-1` },
          { to: 'topic:news', type: 'digest', id: `${transport}-2` },
          { to: [`user:${user}`, 'topic:news'], type: 70, id: `${transport}-3` },
          { to: 'user:someone-else', type: 70, id: `${transport}-other` },
        ]);
        await waitForIds([page], [`${transport}-3`]);
        proxy.cutAll();
        // Published while the client is cut off: its cursor brings them on the next connection.
        const later = await publishSeries(user, `${transport}-cut`, 3);
        await waitForIds([page], later, 15_000);
        await held(transport, 1);
        await assertIds([page], [`${transport}-1`, `${transport}-2`, `${transport}-3`, ...later]);
        const state = await clientState(page);
        assert.equal(state.transport, transport);
        const log = await pageLog(page);
        assert.deepEqual([log.errors, log.expired, log.gaps], [[], [], []]);
        assert.deepEqual([...new Set(log.transports)], [transport]);
        if (transport === 'websocket') assert.equal(proxy.counts.sse, 0);
        if (transport === 'sse') assert.equal(proxy.counts.upgrades, 0);
        await assertHealthy([page]);
      });

      it('renews a token the server refuses at connect time through sid(), without blaming the transport', async () => {
        const user = `renew-${transport}`;
        const valid = await mintToken(user);
        const start = (await (await fetch(`${suite.pns.url}/pns/poll?sid=${valid}&hold=0`)).json()) as { cursor: string };
        const ids = await publishSeries(user, user, 2);
        const [page] = (await tabs(await newContext(), [
          { url: suite.pns.url, sids: [expiredToken(user), valid], cursor: start.cursor, hold: 10, transport },
        ])) as [Page];
        await waitForIds([page], ids, 10_000);
        await assertIds([page], ids);
        const log = await pageLog(page);
        assert.equal(log.sidCalls, 2);
        assert.deepEqual([log.errors, log.expired], [[], []]);
        assert.deepEqual(log.transports, [transport]);
        await assertHealthy([page]);
      });

      it('shares one connection among the tabs of a user', async () => {
        const config: StartConfig = { url: suite.pns.url, sid: await mintToken(`tabs-${transport}`), hold: 10, transport };
        const pages = await tabs(await newContext(), [config, config, config]);
        await held(transport, 1);
        await delay(300);
        assert.equal(await heldConnections(suite.pns.url, transport), 1);
        const ids = await publishSeries(`tabs-${transport}`, `tabs-${transport}`, 3);
        await waitForIds(pages, ids);
        await assertIds(pages, ids);
        await assertHealthy(pages);
      });
    });
  }

  describe('auto', () => {
    const cases: { name: string; behaviour: ProxyBehaviour; expected: Transport }[] = [
      { name: 'uses WebSocket where the network allows it', behaviour: passAll, expected: 'websocket' },
      { name: 'falls back to SSE behind a proxy that refuses WebSocket upgrades', behaviour: noUpgrades, expected: 'sse' },
      {
        name: 'falls back to long polling behind a proxy that also buffers answers',
        behaviour: noUpgradesBuffered,
        expected: 'longpoll',
      },
    ];
    for (const { name, behaviour, expected } of cases) {
      it(`${name}, delivering everything published meanwhile once`, async () => {
        const proxy = await transportProxy(behaviour);
        const user = `auto-${expected}`;
        const [page] = (await tabs(await newContext(), [
          { url: proxy.url, sid: await mintToken(user), hold: 10, transport: 'auto', connectTimeoutMs: 2000 },
        ])) as [Page];
        await waitFor('a first cursor', () => hasCursor(page));
        // Published while the client is still finding its transport.
        const early = await publishSeries(user, `${user}-early`, 5, 300);
        await held(expected, 1, 30_000);
        const late = await publishSeries(user, `${user}-late`, 3);
        await waitForIds([page], late, 10_000);
        await assertIds([page], [...early, ...late]);
        const log = await pageLog(page);
        assert.equal(log.transports.at(-1), expected, `transports: ${log.transports.join(' → ')}`);
        assert.equal((await clientState(page)).transport, expected);
        assert.deepEqual([log.errors, log.expired], [[], []]);
        process.stdout.write(`# auto behind ${JSON.stringify(behaviour)}: ${log.transports.join(' → ')}\n`);
        await assertHealthy([page]);
      });
    }

    it('does not blame WebSocket for a token pns refuses: it renews the token and stays on WebSocket', async () => {
      const valid = await mintToken('auto-renew');
      const start = (await (await fetch(`${suite.pns.url}/pns/poll?sid=${valid}&hold=0`)).json()) as { cursor: string };
      const ids = await publishSeries('auto-renew', 'auto-renew', 2);
      const [page] = (await tabs(await newContext(), [
        { url: suite.pns.url, sids: [expiredToken('auto-renew'), valid], cursor: start.cursor, hold: 10, transport: 'auto' },
      ])) as [Page];
      await waitForIds([page], ids, 10_000);
      await held('websocket', 1);
      const log = await pageLog(page);
      assert.deepEqual([log.sidCalls, log.transports], [2, ['websocket']]);
    });

    it('remembers what worked for the tab: a reload starts on SSE without trying WebSocket again', async () => {
      const proxy = await transportProxy(noUpgrades);
      const config: StartConfig = { url: proxy.url, sid: await mintToken('remember'), hold: 10, transport: 'auto', connectTimeoutMs: 2000 };
      const [page] = (await tabs(await newContext(), [config])) as [Page];
      await held('sse', 1, 30_000);
      // Remembered once it has lasted 10 s: a transport that dies young is not worth remembering.
      await waitFor('SSE remembered', () => page.evaluate(() => Object.values(sessionStorage).includes('sse')), 15_000);
      const refused = proxy.counts.refusedUpgrades;
      assert.ok(refused >= 1);
      await page.reload();
      await openClientPage(page, suite.web.origin);
      await startClient(page, config);
      await held('sse', 1, 15_000);
      await delay(500);
      assert.deepEqual((await pageLog(page)).transports, ['sse']);
      assert.equal(proxy.counts.refusedUpgrades, refused, 'no new upgrade attempt');
      const ids = await publishSeries('remember', 'remember', 2);
      await waitForIds([page], ids);
      await assertIds([page], ids);
    });

    it('climbs back to WebSocket later, switching transport in the middle of a stream, losing and doubling nothing', async () => {
      const proxy = await transportProxy(noUpgradesBuffered);
      const user = 'switch';
      const [page] = (await tabs(await newContext(), [
        { url: proxy.url, sid: await mintToken(user), hold: 10, transport: 'auto', connectTimeoutMs: 1500, upgradeAfterMs: 3000 },
      ])) as [Page];
      await waitFor('long polling', async () => (await clientState(page)).transport === 'longpoll', 30_000);
      await held('longpoll', 1);
      // A steady stream of messages for the whole switch: the network starts allowing upgrades halfway.
      const series = publishSeries(user, 'switch', 60, 100);
      await delay(1500);
      proxy.behaviour = passAll;
      const ids = await series;
      await held('websocket', 1, 30_000);
      const tail = await publishSeries(user, 'switch-tail', 2);
      await waitForIds([page], tail, 10_000);
      await assertIds([page], [...ids, ...tail]);
      const log = await pageLog(page);
      assert.equal(log.transports.at(-1), 'websocket', `transports: ${log.transports.join(' → ')}`);
      assert.ok(log.transports.includes('longpoll'));
      assert.deepEqual([log.errors, log.expired, log.gaps], [[], [], []]);
      process.stdout.write(`# switch in a stream of 60 messages: ${log.transports.join(' → ')}\n`);
      await assertHealthy([page]);
    });
  });
});
