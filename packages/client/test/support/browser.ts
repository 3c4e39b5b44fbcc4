// Support for the tests that run the client in a real browser: Chromium through playwright-core, a static
// file server for the test pages, a fault-injecting proxy in front of pns, and helpers to publish, mint
// tokens and read the server's metrics.
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createToken } from '@pns/publisher';
import { browserSkipReason, launchChromium, type SpawnedServer, spawnServer } from '@pns/test-support';
import type { Browser } from 'playwright-core';

/** packages/client (this file runs from packages/client/dist/test/support). */
export const clientDir = fileURLToPath(new URL('../../../', import.meta.url));
export const fixturesDir = `${clientDir}test/fixtures/`;

/** Whether the browser suites skip (see browserSkipReason). */
export const browserSkip: string | false = browserSkipReason();

export const launchBrowser: () => Promise<Browser> = launchChromium;

// ---------------------------------------------------------------------------------------------- pns

export const secret = 'browser-test-secret-0123456789abcdef';
export const publishKey = 'browser-test-publish-key-0123456789abcdef';

/** Runs `pns serve` with the test keys, allowing `corsOrigin` (the static server's origin), draining at once. */
export function startPns(corsOrigin: string, options: { port?: number; args?: string[] } = {}): Promise<SpawnedServer> {
  return spawnServer({
    env: { PNS_SECRET: secret, PNS_PUBLISH_KEY: publishKey, PNS_CORS_ORIGINS: corsOrigin },
    args: ['--drain-seconds', '0', ...(options.args ?? [])],
    ...(options.port === undefined ? {} : { port: options.port }),
  });
}

export interface OutgoingMessage {
  to: string | string[];
  type: number | string;
  data?: unknown;
  id?: string;
}

/** POST /pns/publish with the Bearer key; resolves with the ids once pns has stored the messages. */
export async function publish(pnsUrl: string, messages: OutgoingMessage | OutgoingMessage[]): Promise<string[]> {
  const response = await fetch(`${pnsUrl}/pns/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${publishKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(messages),
    signal: AbortSignal.timeout(5000),
  });
  const body = (await response.json()) as { ids?: string[]; errorCode?: string };
  if (response.status !== 200 || !body.ids) throw new Error(`publish: ${response.status} ${body.errorCode}`);
  return body.ids;
}

/** A session token for `user`, valid for an hour. */
export function mintToken(user: string, topics?: string[]): Promise<string> {
  return createToken({ secret, user, ...(topics ? { topics } : {}) });
}

/** A well-signed token whose `exp` is `secondsAgo` in the past (more than the server's 30 s tolerance by default). */
export function expiredToken(user: string, secondsAgo = 120): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: user, iat: now - secondsAgo - 3600, exp: now - secondsAgo })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** `pns_held_connections{transport="longpoll"}` from /metrics. */
export function heldPolls(pnsUrl: string): Promise<number> {
  return heldConnections(pnsUrl, 'longpoll');
}

/** `pns_held_connections{transport}` from /metrics: `longpoll`, `sse` or `websocket`. */
export async function heldConnections(pnsUrl: string, transport: string): Promise<number> {
  const text = await (await fetch(`${pnsUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const line = new RegExp(`^pns_held_connections\\{transport="${transport}"\\} (\\d+)$`, 'm').exec(text);
  return line ? Number(line[1]) : 0;
}

// ------------------------------------------------------------------------------------------- waiting

/** Polls `check` every 10 ms until it returns something truthy; fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await delay(10);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port that was free a moment ago (to restart pns on the same port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// ------------------------------------------------------------------------------------------ forwarding

/** One request to `/pns/poll` that went through a Forwarder, as the proxy saw it. */
export interface PollRecord {
  url: string;
  /** When the request arrived (ms since the epoch). */
  start: number;
  /** When the answer was written out whole. */
  end?: number;
  status?: number;
  body?: string;
  /** Answered by the proxy itself (a fault), not by pns. */
  canned: boolean;
  /** The client went away before the answer. */
  aborted?: boolean;
}

export interface CannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade']);

/**
 * Forwards `/pns/*` requests to pns, records every poll, and answers the next polls with canned faults when told to.
 * Canned answers carry the CORS headers pns would send (`cors`), so the browser can read them cross-origin.
 */
export class Forwarder {
  readonly polls: PollRecord[] = [];
  private readonly faults: CannedAnswer[] = [];

  constructor(
    public target: string,
    private readonly cors: boolean,
  ) {}

  /** The next `answers.length` polls get these answers instead of reaching pns. */
  failNextPolls(...answers: CannedAnswer[]): void {
    this.faults.push(...answers);
  }

  /** Polls still open at the proxy. */
  inFlight(): PollRecord[] {
    return this.polls.filter((poll) => poll.end === undefined && !poll.aborted);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const record: PollRecord | undefined = url.startsWith('/pns/poll') ? { url, start: Date.now(), canned: false } : undefined;
    if (record) this.polls.push(record);
    const finish = (status: number, headers: Record<string, string | string[]>, body: Buffer): void => {
      res.writeHead(status, headers);
      res.end(body, () => {
        if (!record) return;
        record.status = status;
        record.body = body.toString('utf8');
        record.end = Date.now();
      });
    };
    const fault = record ? this.faults.shift() : undefined;
    if (fault && record) {
      record.canned = true;
      const headers: Record<string, string> = { 'cache-control': 'no-store', ...fault.headers };
      const origin = req.headers.origin;
      if (this.cors && origin) headers['access-control-allow-origin'] = origin;
      req.resume();
      finish(fault.status, headers, Buffer.from(fault.body));
      return;
    }
    const headers = { ...req.headers, host: new URL(this.target).host };
    const upstream = request(`${this.target}${url}`, { method: req.method, headers, agent: false }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !hopByHop.has(name)) out[name] = value;
        finish(answer.statusCode ?? 502, out, Buffer.concat(chunks));
      });
    });
    upstream.on('error', () => {
      if (res.headersSent || res.destroyed) return;
      finish(502, { 'content-type': 'text/plain' }, Buffer.from('bad gateway'));
    });
    res.on('close', () => {
      if (res.writableFinished) return;
      if (record) record.aborted = true;
      upstream.destroy();
    });
    req.pipe(upstream);
  }
}

export interface RunningServer {
  url: string;
  origin: string;
  close(): Promise<void>;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<RunningServer> {
  const server: Server = createServer(handler);
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    origin: url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A proxy in front of pns on its own port (another origin than the pages): the client's `url` points here. */
export async function startProxy(target: string): Promise<RunningServer & { forwarder: Forwarder }> {
  const forwarder = new Forwarder(target, true);
  const server = await listen((req, res) => forwarder.handle(req, res));
  return { ...server, forwarder };
}

// -------------------------------------------------------------------------------------------- static

export interface StaticServer extends RunningServer {
  /** Serves `body` at `path` (an HTML page by default). */
  setFile(path: string, body: string, type?: string): void;
  /** Forward same-origin `/pns/*` requests (the seed webmail polls a relative URL). */
  forwarder: Forwarder | undefined;
}

const types: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  map: 'application/json; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

/**
 * The origin of the test pages, on 127.0.0.1 port 0: pages set with `setFile`, `/pns.min.js` (and its map) from
 * packages/client/dist, `/fixtures/<name>` from packages/client/test/fixtures, and `/pns/*` through `forwarder` if set.
 */
export async function startStaticServer(): Promise<StaticServer> {
  const files = new Map<string, { body: string; type: string }>();
  const state: { forwarder: Forwarder | undefined } = { forwarder: undefined };
  const send = (res: ServerResponse, status: number, body: string | Buffer, type: string): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const server = await listen((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path.startsWith('/pns/') && state.forwarder) {
      state.forwarder.handle(req, res);
      return;
    }
    const file = files.get(path);
    if (file) return send(res, 200, file.body, file.type);
    const bundle = /^\/(pns\.min\.js(?:\.map)?)$/.exec(path)?.[1];
    const fixture = /^\/fixtures\/([\w.-]+)$/.exec(path)?.[1];
    const onDisk = bundle ? `${clientDir}dist/${bundle}` : fixture ? `${fixturesDir}${fixture}` : undefined;
    if (onDisk && existsSync(onDisk)) return send(res, 200, readFileSync(onDisk), types[onDisk.split('.').pop() ?? ''] ?? 'text/plain');
    if (path === '/favicon.ico') return send(res, 204, '', 'text/plain');
    send(res, 404, 'not found', 'text/plain');
  });
  return {
    ...server,
    setFile: (path, body, type = types.html as string) => files.set(path, { body, type }),
    get forwarder() {
      return state.forwarder;
    },
    set forwarder(value) {
      state.forwarder = value;
    },
  };
}
