// Support for the page tests: pns as `npm start` runs it, Chromium, screenshots, and load that the dashboard
// should see (held long polls, SSE streams, WebSockets, publishes).
import { mkdirSync } from 'node:fs';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createToken, Publisher } from '@pns/publisher';
import { type HttpPoller, launchChromium, type SpawnedServer, SseParser, spawnServer, startHttpPoller } from '@pns/test-support';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import WebSocket from 'ws';

/** Git-ignored: each run's screenshots of the pages (the README's are copies of these). */
const screenshotDir = fileURLToPath(new URL('../../../../../test-artifacts/screenshots/', import.meta.url));

const secret = 'pages-test-secret-0123456789abcdef';
const publishKey = 'pages-test-publish-key-0123456789abcdef';
export const adminKey = 'pages-test-admin-key-0123456789abcdef';

/** `pns serve` in dev mode, as a newcomer's `npm start` runs it (the publish key given, so the test can publish). */
export function startDevPns(): Promise<SpawnedServer> {
  return spawnServer({ env: { PNS_PUBLISH_KEY: publishKey }, args: ['--drain-seconds', '0'] });
}

/** `pns serve` as in production, with the dashboard opened by an admin key. */
export function startKeyedPns(env: Record<string, string> = {}): Promise<SpawnedServer> {
  return spawnServer({
    env: { PNS_SECRET: secret, PNS_PUBLISH_KEY: publishKey, PNS_ADMIN_KEY: adminKey, PNS_WORKERS: '1', ...env },
    args: ['--drain-seconds', '0'],
  });
}

export interface PageSuite<T> {
  /** What `start` gave, once the suite's `before` ran. */
  readonly servers: T;
  /** A browser window of its own (separate storage), closed with the suite. */
  newContext(viewport: { width: number; height: number }): Promise<BrowserContext>;
}

/** Starts `start`'s servers and Chromium before the enclosing describe's tests; closes both after them. */
export function pageSuite<T extends { stop(): Promise<unknown> }>(start: () => Promise<T>): PageSuite<T> {
  let servers: T | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  before(async () => {
    [servers, browser] = await Promise.all([start(), launchChromium()]);
  });
  after(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    await browser?.close();
    await servers?.stop();
  });
  return {
    get servers() {
      if (!servers) throw new Error('pageSuite: servers are not started yet');
      return servers;
    },
    async newContext(viewport) {
      if (!browser) throw new Error('pageSuite: Chromium is not launched yet');
      const context = await browser.newContext({ viewport });
      contexts.push(context);
      return context;
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: `${screenshotDir}${name}.png` });
}

export interface Load {
  users: string[];
  /** Messages received over every transport. */
  received(): number;
  stop(): Promise<void>;
}

/**
 * Clients on `url` over all three transports: `polls` long-polling users (re-polling by the seed's rules),
 * `streams` SSE streams and `sockets` WebSockets, each of its own user.
 */
export async function applyLoad(url: string, counts: { polls: number; streams: number; sockets: number }): Promise<Load> {
  const token = (user: string): Promise<string> => createToken({ secret, user, ttl: '10m' });
  const users: string[] = [];
  const pollers: HttpPoller[] = [];
  const aborts: AbortController[] = [];
  const sockets: WebSocket[] = [];
  let streamed = 0;
  for (let i = 0; i < counts.polls; i++) {
    users.push(`load-poll-${i}`);
    pollers.push(startHttpPoller({ url, sid: await token(`load-poll-${i}`), useCursor: true, hold: 20, pollIntervalMs: 50 }));
  }
  for (let i = 0; i < counts.streams; i++) {
    users.push(`load-sse-${i}`);
    const abort = new AbortController();
    aborts.push(abort);
    const response = await fetch(`${url}/pns/sse?sid=${await token(`load-sse-${i}`)}`, { signal: abort.signal });
    // Message events are the ones without an event name.
    const parser = new SseParser((event) => {
      if (event.event === undefined && event.data !== undefined) streamed++;
    });
    void response.body
      ?.pipeThrough(new TextDecoderStream())
      .pipeTo(new WritableStream({ write: (chunk: string) => void parser.push(chunk) }))
      .catch(() => undefined);
  }
  for (let i = 0; i < counts.sockets; i++) {
    users.push(`load-ws-${i}`);
    const socket = new WebSocket(`${url.replace('http', 'ws')}/pns/ws?sid=${await token(`load-ws-${i}`)}`);
    socket.on('message', (data) => {
      streamed += (JSON.parse(String(data)) as { c: number }).c;
    });
    socket.on('error', () => undefined);
    sockets.push(socket);
  }
  return {
    users,
    received: () => streamed + pollers.reduce((sum, poller) => sum + poller.received.length, 0),
    async stop() {
      for (const abort of aborts) abort.abort();
      for (const socket of sockets) socket.terminate();
      await Promise.all(pollers.map((poller) => poller.stop()));
    },
  };
}

/** Publishes to random load users at about `perSecond` until `stop` is called (bounded by `maxMs`). */
export function publishLoop(url: string, users: readonly string[], perSecond: number, maxMs = 30_000): { stop(): Promise<number> } {
  let running = true;
  let sent = 0;
  const publisher = new Publisher({ url, publishKey, retries: 0, timeoutMs: 5000 });
  const done = (async () => {
    const deadline = Date.now() + maxMs;
    while (running && Date.now() < deadline) {
      const user = users[Math.floor(Math.random() * users.length)] as string;
      await publisher.publish(`user:${user}`, 70, { subject: `load ${sent}` });
      sent++;
      await new Promise((resolve) => setTimeout(resolve, 1000 / perSecond));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return sent;
    },
  };
}
