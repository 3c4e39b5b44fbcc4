import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import type { Duplex } from 'node:stream';
import { PnsError } from '@pns/protocol';
import type { Logger } from 'pino';
import { toPnsError, writeRawError } from './errors.js';
import { type AdmissionState, admissionRefusal, closesConnection, isUnexpected, redactUrl, requestLogLevel } from './request-rules.js';

export type RawQuery = Record<string, string | string[] | undefined>;

/**
 * Serves one raw route's request; it answers through the exchange, now or later. The query is an
 * argument, not kept on the exchange: a held request should keep only what answering it needs.
 */
export type RawHandler = (exchange: RawExchange, query: RawQuery) => void | Promise<void>;

/**
 * Serves an HTTP upgrade (WebSocket) on a raw route. It takes the socket over;
 * a failure it throws or rejects with is answered as a catalog error.
 */
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer, query: RawQuery) => void | Promise<void>;

export interface RawRoutesOptions extends AdmissionState {
  logger: Logger;
  /** Origins whose browsers may read the answers (CORS); empty: none. */
  corsOrigins: readonly string[];
}

const jsonType = 'application/json; charset=utf-8';

/** A request URL's path and its query string (empty when there is none). */
function splitUrl(url = ''): [path: string, search: string] {
  const mark = url.indexOf('?');
  return mark === -1 ? [url, ''] : [url.slice(0, mark), url.slice(mark + 1)];
}

/**
 * GET routes served by node:http directly, in front of the framework: the
 * routes that hold requests open. A held poll is most of a push server's
 * memory and work, and the framework's per-request objects (request, reply,
 * child logger, hook promises) would cost more than the poll itself
 * (docs/performance.md). Every other request goes to the framework; the
 * rules both layers share live in `request-rules.ts`.
 */
export class RawRoutes {
  private readonly handlers = new Map<string, RawHandler>();
  private readonly upgrades = new Map<string, UpgradeHandler>();
  readonly options: RawRoutesOptions;
  private readonly allowAnyOrigin: boolean;

  constructor(options: RawRoutesOptions) {
    this.options = options;
    this.allowAnyOrigin = options.corsOrigins.includes('*');
  }

  get(path: string, handler: RawHandler): void {
    this.handlers.set(path, handler);
  }

  /** Registers the handler of upgrade requests (WebSocket) on `path`. */
  upgrade(path: string, handler: UpgradeHandler): void {
    this.upgrades.set(path, handler);
  }

  paths(): string[] {
    return [...new Set([...this.handlers.keys(), ...this.upgrades.keys()])];
  }

  /**
   * Serves an upgrade request (node:http's `upgrade` event, which no framework
   * sees): the same admission rules, then the path's handler; anything else
   * gets a catalog error written on the socket, which is then closed.
   */
  dispatchUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // node:http removes its own error listener from a socket it hands over: writing the answer to a
    // client that has reset the connection would otherwise raise an unhandled error.
    socket.on('error', () => socket.destroy());
    const [path, search] = splitUrl(request.url);
    const handler = this.upgrades.get(path);
    const fail = (error: unknown): void => this.failUpgrade(request, socket, error);
    const refusal = handler ? admissionRefusal(request, this.options) : new PnsError('NOT_FOUND');
    if (refusal || !handler) {
      fail(refusal);
      return;
    }
    // A WebSocket handshake is a GET (RFC 6455 section 4.1); ws would refuse anything else outside the catalog.
    if (request.method !== 'GET') {
      this.failUpgrade(request, socket, new PnsError('METHOD_NOT_ALLOWED'), { Allow: 'GET' });
      return;
    }
    try {
      handler(request, socket, head, parseQueryString(search))?.catch(fail);
    } catch (error) {
      fail(error);
    }
  }

  /** Writes the catalog error for `error` as a plain HTTP answer on an upgrade's socket, and closes it. */
  failUpgrade(request: IncomingMessage, socket: Duplex, error: unknown, extraHeaders: Record<string, string> = {}): void {
    const pnsError = toPnsError(error);
    if (isUnexpected(pnsError)) {
      this.options.logger.error({ err: error, url: redactUrl(request.url ?? ''), code: pnsError.code }, 'upgrade failed');
    }
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const headers: OutgoingHttpHeaders = { ...extraHeaders };
    this.corsHeaders(request.headers.origin, headers);
    writeRawError(socket, pnsError, headers as Record<string, string>);
  }

  /** Serves the request when it is a GET on a raw route; false leaves it to the framework. */
  dispatch(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'GET') return false;
    const [path, search] = splitUrl(request.url);
    const handler = this.handlers.get(path);
    if (!handler) return false;
    const exchange = new RawExchange(this, request, response);
    const refusal = admissionRefusal(request, this.options);
    if (refusal) {
      exchange.fail(refusal);
      return true;
    }
    try {
      handler(exchange, parseQueryString(search))?.catch((error: unknown) => exchange.fail(error));
    } catch (error) {
      exchange.fail(error);
    }
    return true;
  }

  /** The CORS headers of an answer to `origin`, as the framework's CORS plugin would write them. */
  corsHeaders(origin: string | undefined, headers: OutgoingHttpHeaders): void {
    if (this.options.corsOrigins.length === 0) return;
    if (this.allowAnyOrigin) headers['access-control-allow-origin'] = '*';
    else {
      headers.vary = 'Origin';
      if (origin !== undefined && this.options.corsOrigins.includes(origin)) headers['access-control-allow-origin'] = origin;
    }
    headers['access-control-expose-headers'] = 'Retry-After';
  }
}

/** One request on a raw route and the one way to answer it, once. */
export class RawExchange {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  private readonly routes: RawRoutes;
  private readonly startedAt = performance.now();

  constructor(routes: RawRoutes, request: IncomingMessage, response: ServerResponse) {
    this.routes = routes;
    this.request = request;
    this.response = response;
  }

  get logger(): Logger {
    return this.routes.options.logger;
  }

  /** True once the answer was written or the client left: nothing more can be sent. */
  get done(): boolean {
    return this.response.headersSent || this.response.destroyed;
  }

  /** Answers with a JSON body; `close` ends the connection after it. */
  json(status: number, body: string, close = false, retryAfter?: number): void {
    if (this.done) return;
    const headers: OutgoingHttpHeaders = {
      'content-type': jsonType,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    };
    if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
    if (close) headers.connection = 'close';
    this.routes.corsHeaders(this.request.headers.origin, headers);
    this.response.writeHead(status, headers);
    this.response.end(body);
    this.log(status);
  }

  /**
   * Starts a streamed answer (Server-Sent Events): the headers now, the body
   * as the caller writes it to `response`. Proxies are asked not to buffer it.
   */
  stream(status: number, contentType: string): void {
    if (this.done) return;
    const headers: OutgoingHttpHeaders = { 'content-type': contentType, 'cache-control': 'no-store', 'x-accel-buffering': 'no' };
    this.routes.corsHeaders(this.request.headers.origin, headers);
    this.response.writeHead(status, headers);
    this.response.flushHeaders();
    this.log(status);
  }

  /** Answers with the catalog error for `error`; an unexpected one is logged, never shown. */
  fail(error: unknown): void {
    const pnsError: PnsError = toPnsError(error);
    if (isUnexpected(pnsError)) {
      this.logger.error({ err: error, url: redactUrl(this.request.url ?? ''), code: pnsError.code }, 'request failed');
    }
    this.json(pnsError.status, JSON.stringify(pnsError.toBody()), closesConnection(pnsError), pnsError.retryAfter);
  }

  private log(status: number): void {
    const level = requestLogLevel(status, true);
    if (!this.logger.isLevelEnabled(level)) return; // most polls at the default level: build nothing
    const ms = Math.round(performance.now() - this.startedAt);
    this.logger[level]({ method: 'GET', url: redactUrl(this.request.url ?? ''), status, ms }, 'request');
  }
}
