// The operations dashboard in real Chromium: behind its admin key, its numbers and charts moving under load on
// all three transports, and one row per node when several nodes share Redis.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { browserSkipReason, redisSkipReason, type SpawnedServer, startRedis } from '@pns/test-support';
import type { Page } from 'playwright-core';
import { adminKey, applyLoad, type PageSuite, pageSuite, publishLoop, screenshot, startKeyedPns } from './support/pages.js';

const browserSkip = browserSkipReason();
const noRedis = browserSkip || redisSkipReason();

async function dashboard(suite: PageSuite<unknown>, url: string, key = adminKey): Promise<Page> {
  const page = await (await suite.newContext({ width: 1280, height: 900 })).newPage();
  await page.goto(`${url}/pns/admin`);
  await page.getByTestId('dashboard-state').filter({ hasText: 'key required' }).waitFor({ timeout: 5000 });
  await page.getByTestId('admin-key').fill(key);
  await page.getByTestId('admin-key-submit').click();
  return page;
}

/** The number a stat card shows (NaN for `–`). */
async function stat(page: Page, name: string): Promise<number> {
  return Number(((await page.locator(`[data-stat="${name}"]`).textContent()) ?? '').replace(/[^0-9.]/g, '') || Number.NaN);
}

/** Several stat cards read at once, so they come from one sample. */
async function stats(page: Page, names: readonly string[]): Promise<number[]> {
  return page.evaluate(
    (wanted) =>
      wanted.map((name) => Number(document.querySelector(`[data-stat="${name}"]`)?.textContent?.replace(/[^0-9.]/g, '') || Number.NaN)),
    [...names],
  );
}

/** Waits until `check` holds for the stat (the page samples once a second). */
async function statUntil(page: Page, name: string, check: (value: number) => boolean, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await stat(page, name);
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${name} stayed at ${value}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('operations dashboard in Chromium', { skip: browserSkip, timeout: 120_000 }, () => {
  const suite = pageSuite(startKeyedPns);

  it('asks for the admin key and stays closed to a wrong one', async () => {
    const page = await dashboard(suite, suite.servers.url, 'not-the-admin-key-0123456789');
    await page.getByText('The server refused that key.').waitFor({ timeout: 5000 });
    assert.equal(((await page.getByTestId('dashboard-state').textContent()) ?? '').trim(), 'key required');
    assert.equal(await page.locator('[data-stat="held-total"]').count(), 0, 'no numbers without the key');
  });

  it('shows held connections by transport, publish and delivery rates and latency moving under load', async () => {
    const pns = suite.servers;
    const page = await dashboard(suite, pns.url);
    await page.getByTestId('dashboard-state').filter({ hasText: 'live' }).waitFor({ timeout: 5000 });
    assert.equal(await stat(page, 'held-total'), 0);
    assert.equal(await stat(page, 'published-per-second'), 0);
    const load = await applyLoad(pns.url, { polls: 30, streams: 10, sockets: 10 });
    let publishing: { stop(): Promise<number> } | undefined;
    try {
      const deadline = Date.now() + 15_000;
      let held = await stats(page, ['held-total', 'held-longpoll', 'held-sse', 'held-websocket']);
      while (held.join() !== '50,30,10,10') {
        if (Date.now() > deadline) throw new Error(`held connections stayed at ${held.join()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        held = await stats(page, ['held-total', 'held-longpoll', 'held-sse', 'held-websocket']);
      }
      publishing = publishLoop(pns.url, load.users, 40);
      await statUntil(page, 'published-per-second', (value) => value > 0);
      await statUntil(page, 'delivered-per-second', (value) => value > 0);
      const p99 = await statUntil(page, 'latency-p99', (value) => value > 0);
      assert.ok(p99 < 1000, `p99 ${p99} ms`);
      const samples = Number(await page.getByTestId('dashboard').getAttribute('data-samples'));
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.ok(Number(await page.getByTestId('dashboard').getAttribute('data-samples')) >= samples + 2, 'samples keep coming');
      for (const chart of ['held', 'rates', 'latency']) {
        assert.equal(await page.locator(`[data-chart="${chart}"] canvas`).count(), 1, `${chart} chart drawn`);
      }
      await screenshot(page, 'dashboard');
    } finally {
      const sent = (await publishing?.stop()) ?? 0;
      await load.stop();
      process.stdout.write(`# ${sent} messages published under the dashboard, ${load.received()} delivered\n`);
    }
    await statUntil(page, 'held-total', (value) => value === 0);
  });
});

describe('operations dashboard over several nodes', { skip: noRedis, timeout: 120_000 }, () => {
  // Two nodes sharing one Redis, which stops last (and also when a node fails to start).
  const suite = pageSuite(async () => {
    const redis = await startRedis();
    const nodes = await Promise.all([0, 1].map(() => startKeyedPns({ PNS_REDIS_URL: redis.url }))).catch(async (error: unknown) => {
      await redis.stop();
      throw error;
    });
    return {
      nodes,
      async stop() {
        await Promise.all(nodes.map((node) => node.stop()));
        await redis.stop();
      },
    };
  });

  it('lists every node sharing the Redis, with each node’s own connections, and drops a stopped one at once', async () => {
    const [a, b] = suite.servers.nodes as [SpawnedServer, SpawnedServer];
    const page = await dashboard(suite, a.url);
    await statUntil(page, 'node-count', (value) => value === 2);
    const loadOnB = await applyLoad(b.url, { polls: 0, streams: 4, sockets: 3 });
    try {
      await statUntil(page, 'held-total', (value) => value === 7);
      assert.equal(await page.locator('tr[data-node]').count(), 2);
      // Cells: node, long poll, SSE, WebSocket.
      const cells = (pid: number | undefined) => page.locator(`tr[data-node*=":${pid}-"]`).locator('th, td').allTextContents();
      assert.deepEqual((await cells(b.child.pid)).slice(1, 4), ['0', '4', '3'], 'node B holds the connections made to it');
      assert.deepEqual((await cells(a.child.pid)).slice(1, 4), ['0', '0', '0'], 'node A holds none');
      await page.locator('[data-chart="nodes"] canvas').waitFor({ timeout: 5000 });
      await screenshot(page, 'dashboard-nodes');
    } finally {
      await loadOnB.stop();
    }
    await b.stop();
    // A stopping node takes itself off the board: no waiting for it to go stale.
    await statUntil(page, 'node-count', (value) => value === 1, 3000);
  });
});
