// The test page for the browser SDK: it loads /pns.min.js and, when the test calls `startPns(config)`, creates
// `new Pns.PnsClient(…)` and records everything it reports into `window.pnsLog`, which the test reads.
import type { Page } from 'playwright-core';

export interface PageMessage {
  id: string;
  ch: string;
  type: number | string;
  data: unknown;
}

export interface PageError {
  code: string;
  status: number | null;
}

export interface PageLog {
  /** Every `message` event, in order. */
  messages: PageMessage[];
  /** Ids seen by each `onMessage(type)` handler, keyed `number:70` / `string:70`. */
  typed: Record<string, string[]>;
  /** Every `status` event; anything that is not a string is recorded as `NOT A STATUS: …`. */
  statuses: string[];
  /** One entry per `gap` event: the number of arguments the handler got (0 expected). */
  gaps: number[];
  errors: PageError[];
  expired: PageError[];
  /** How often the `sid` function was called (when the test passed `sids`). */
  sidCalls: number;
  /** Uncaught errors and unhandled rejections in the page. */
  uncaught: string[];
  /** Every `transport` event, in order. */
  transports: string[];
}

export interface StartConfig {
  url: string;
  /** `sid` as a string. */
  sid?: string;
  /** `sid` as a function that returns these in turn (the last one from then on). */
  sids?: string[];
  topics?: string[];
  hold?: number;
  share?: boolean;
  cursor?: string;
  /** Types to register an `onMessage` handler for. */
  typed?: (number | string)[];
  /** The client's `transport` option; these pages default to `longpoll` (the suites that test long polling). */
  transport?: 'auto' | 'websocket' | 'sse' | 'longpoll';
  connectTimeoutMs?: number;
  upgradeAfterMs?: number;
}

interface PageWindow {
  pnsLog: PageLog;
  startPns(config: StartConfig): Promise<boolean>;
  pns: { leader: boolean; status: string; transport: string | undefined; cursor: string | undefined; stop(): void };
}

export const clientPageHtml = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>pns client test</title></head>
<body>
<script src="/pns.min.js"></script>
<script>
window.pnsLog = { messages: [], typed: {}, statuses: [], gaps: [], errors: [], expired: [], sidCalls: 0, uncaught: [], transports: [] };
window.addEventListener('error', function (event) { pnsLog.uncaught.push(String(event.message)); });
window.addEventListener('unhandledrejection', function (event) { pnsLog.uncaught.push(String(event.reason)); });
window.startPns = function (config) {
  var sid = config.sid;
  if (config.sids) {
    sid = function () {
      var index = pnsLog.sidCalls++;
      return config.sids[Math.min(index, config.sids.length - 1)];
    };
  }
  var options = { url: config.url, sid: sid, transport: config.transport || 'longpoll' };
  if (config.connectTimeoutMs !== undefined) options.connectTimeoutMs = config.connectTimeoutMs;
  if (config.upgradeAfterMs !== undefined) options.upgradeAfterMs = config.upgradeAfterMs;
  if (config.topics) options.topics = config.topics;
  if (config.hold !== undefined) options.hold = config.hold;
  if (config.share !== undefined) options.share = config.share;
  var pns = new Pns.PnsClient(options);
  window.pns = pns;
  pns.on('message', function (m) { pnsLog.messages.push({ id: m.id, ch: m.ch, type: m.type, data: m.data }); });
  (config.typed || []).forEach(function (type) {
    var key = typeof type + ':' + type;
    pnsLog.typed[key] = [];
    pns.onMessage(type, function (m) { pnsLog.typed[key].push(m.id); });
  });
  pns.on('status', function (status) {
    pnsLog.statuses.push(typeof status === 'string' ? status : 'NOT A STATUS: ' + JSON.stringify(status));
  });
  pns.on('transport', function (name) { pnsLog.transports.push(name); });
  pns.on('gap', function () { pnsLog.gaps.push(arguments.length); });
  pns.on('error', function (e) { pnsLog.errors.push({ code: e.code, status: e.status === undefined ? null : e.status }); });
  pns.on('sessionExpired', function (e) { pnsLog.expired.push({ code: e.code, status: e.status === undefined ? null : e.status }); });
  return pns.start(config.cursor).then(function () { return true; });
};
</script>
</body>
</html>
`;

/** Opens the client page of `origin` in `page`. */
export async function openClientPage(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/client.html`);
  await page.waitForFunction(() => typeof (window as unknown as { Pns?: unknown }).Pns === 'object', undefined, { timeout: 5000 });
}

export async function startClient(page: Page, config: StartConfig): Promise<void> {
  await page.evaluate((c) => (window as unknown as PageWindow).startPns(c), config);
}

export function pageLog(page: Page): Promise<PageLog> {
  return page.evaluate(() => (window as unknown as PageWindow).pnsLog);
}

export function messageIds(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as PageWindow).pnsLog.messages.map((m) => m.id));
}

export function clientState(page: Page): Promise<{ leader: boolean; status: string; transport: string | undefined }> {
  return page.evaluate(() => {
    const { pns } = window as unknown as PageWindow;
    return { leader: pns.leader, status: pns.status, transport: pns.transport };
  });
}
