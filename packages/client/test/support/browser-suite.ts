// The shared setup of the browser-client suites: a static origin for the test pages, a real `pns serve`
// that allows that origin, one Chromium, and helpers. Call useBrowserSuite() inside a top-level describe.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach } from 'node:test';
import type { SpawnedServer } from '@pns/test-support';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  type CannedAnswer,
  delay,
  type Forwarder,
  heldConnections,
  heldPolls,
  launchBrowser,
  type RunningServer,
  type StaticServer,
  startPns,
  startProxy,
  startStaticServer,
  waitFor,
} from './browser.js';
import { clientPageHtml, messageIds, openClientPage, pageLog, type StartConfig, startClient } from './client-page.js';
import { type ProxyBehaviour, startTransportProxy, type TransportProxy } from './transport-proxy.js';

const statuses = new Set(['idle', 'polling', 'waiting', 'offline', 'stopped', 'following']);

export interface BrowserSuite {
  readonly web: StaticServer;
  readonly pns: SpawnedServer;
  newContext(): Promise<BrowserContext>;
  tabs(context: BrowserContext, configs: StartConfig[]): Promise<Page[]>;
  proxy(...faults: CannedAnswer[]): Promise<RunningServer & { forwarder: Forwarder }>;
  /** A proxy that can refuse upgrades and buffer answers (support/transport-proxy.ts), closed after the suite. */
  transportProxy(behaviour: ProxyBehaviour): Promise<TransportProxy>;
  heldSettles(count: number, url?: string, timeoutMs?: number): Promise<void>;
  waitForIds(pages: Page[], ids: string[], timeoutMs?: number): Promise<void>;
  assertIds(pages: Page[], ids: string[]): Promise<void>;
  assertHealthy(pages: Page[]): Promise<void>;
  /** Closes every context this suite opened so far (also done after each case). */
  closeContexts(): Promise<void>;
}

export function useBrowserSuite(): BrowserSuite {
  let web: StaticServer;
  let pns: SpawnedServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const proxies: RunningServer[] = [];

  before(async () => {
    web = await startStaticServer();
    web.setFile('/client.html', clientPageHtml);
    pns = await startPns(web.origin);
    browser = await launchBrowser();
  });
  // Every case starts with no held polls on the shared server, and closes its browser contexts when done.
  beforeEach(() =>
    waitFor('no connections from earlier cases', async () => {
      const held = await Promise.all(['longpoll', 'sse', 'websocket'].map((transport) => heldConnections(pns.url, transport)));
      return held.every((count) => count === 0);
    }),
  );
  afterEach(closeContexts);
  after(async () => {
    await browser?.close();
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await pns?.stop();
    await web?.close();
  });

  /** A fresh browser context (its own Web Locks and BroadcastChannels: another browser profile, in effect). */
  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext();
    contexts.push(context);
    return context;
  }

  async function closeContexts(): Promise<void> {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  }

  /** Opens one tab of the client page in `context` per config, and starts a client in each. */
  async function tabs(context: BrowserContext, configs: StartConfig[]): Promise<Page[]> {
    const pages: Page[] = [];
    for (const config of configs) {
      const page = await context.newPage();
      await openClientPage(page, web.origin);
      await startClient(page, config);
      pages.push(page);
    }
    return pages;
  }

  async function proxy(...faults: CannedAnswer[]): Promise<RunningServer & { forwarder: Forwarder }> {
    const started = await startProxy(pns.url);
    proxies.push(started);
    started.forwarder.failNextPolls(...faults);
    return started;
  }

  async function transportProxy(behaviour: ProxyBehaviour): Promise<TransportProxy> {
    const started = await startTransportProxy(pns.url, behaviour);
    proxies.push(started);
    return started;
  }

  /** The count of held polls reaches `count` and is still `count` a moment later. */
  async function heldSettles(count: number, url = pns.url, timeoutMs = 5000): Promise<void> {
    await waitFor(`${count} held polls`, async () => (await heldPolls(url)) === count, timeoutMs);
    await delay(300);
    assert.equal(await heldPolls(url), count, 'held polls right after settling');
  }

  async function waitForIds(pages: Page[], ids: string[], timeoutMs = 5000): Promise<void> {
    const last = ids[ids.length - 1] as string;
    for (const page of pages) await waitFor(`message ${last} in every tab`, async () => (await messageIds(page)).includes(last), timeoutMs);
  }

  async function assertIds(pages: Page[], ids: string[]): Promise<void> {
    for (const [index, page] of pages.entries()) assert.deepEqual(await messageIds(page), ids, `tab ${index}`);
  }

  async function assertHealthy(pages: Page[]): Promise<void> {
    for (const page of pages) {
      const log = await pageLog(page);
      assert.deepEqual(log.uncaught, []);
      assert.deepEqual(
        log.statuses.filter((status) => !statuses.has(status)),
        [],
      );
    }
  }

  return {
    get web() {
      return web;
    },
    get pns() {
      return pns;
    },
    newContext,
    tabs,
    proxy,
    transportProxy,
    heldSettles,
    waitForIds,
    assertIds,
    assertHealthy,
    closeContexts,
  };
}
